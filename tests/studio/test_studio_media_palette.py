"""The vision and speech families reach the Studio's palette: listed with their category titles, and coloured."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "tidal" / "studio" / "static" / "assets"


def test_ocr_and_vad_are_in_the_palette_under_their_families(client):
    listed = {item["id"]: item for item in client.get("/api/components").json()}
    assert listed["vision.ocr"]["category_title"] == "Vision"
    assert listed["speech.vad"]["category_title"] == "Speech"
    assert [port["name"] for port in listed["vision.ocr"]["inputs"]] == ["data"]
    detail = client.get("/api/components/speech.vad").json()
    assert set(detail["params_schema"]["properties"]) >= {"threshold", "min_speech_ms", "min_silence_ms"}
    assert detail["defaults"]["threshold"] == 0.5


def test_the_built_palette_colours_both_families():
    css = "".join(path.read_text() for path in STATIC.glob("*.css"))
    assert ".cat-vision{background:" in css and ".cat-speech{background:" in css
