"""docs/studio.md lists exactly the API's routes; its screenshot exists."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_route_table_matches_the_openapi_schema(client):
    text = (DOCS / "studio.md").read_text()
    documented = set()
    for cell in re.findall(r"^\| (`[A-Z]+ /api[^|]*)\|", text, flags=re.MULTILINE):
        for method, path in re.findall(r"`([A-Z]+) (/api[^`?]*)", cell):
            documented.add((method.lower(), re.sub(r"\{[^}]*\}", "{}", path.strip())))
    schema = client.get("/openapi.json").json()
    served = {(method, re.sub(r"\{[^}]*\}", "{}", path)) for path, item in schema["paths"].items() for method in item}
    assert documented == served


def test_screenshot_is_a_real_png():
    image = DOCS / "images" / "studio.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 50_000
