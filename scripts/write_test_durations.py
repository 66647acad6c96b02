"""Write tests/durations.json (seconds per test file) from a test run's JUnit XML.

    .venv/bin/pytest -n 2 --dist loadfile --junitxml=/tmp/junit.xml
    .venv/bin/python scripts/write_test_durations.py /tmp/junit.xml

``make test`` hands the longest files to its workers first (tests/support/scheduling.py); this
table is where it reads their lengths. Run it after adding a slow test file; a stale table only
costs balance, never a result.
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_file(classname: str) -> str | None:
    """``tests.runtime.test_x.TestY`` -> ``tests/runtime/test_x.py`` (the longest dotted prefix that is a file)."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = Path(*parts[:end]).with_suffix(".py")
        if (ROOT / candidate).is_file():
            return candidate.as_posix()
    return None


def durations(junit: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        path = test_file(case.get("classname", ""))
        if path is not None:
            totals[path] = totals.get(path, 0.0) + float(case.get("time") or 0.0)
    return {path: round(seconds, 1) for path, seconds in sorted(totals.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("junit", type=Path, help="JUnit XML written by pytest --junitxml")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "durations.json")
    arguments = parser.parse_args()
    table = durations(arguments.junit)
    arguments.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{len(table)} files, {sum(table.values()):.0f} s in all -> {arguments.out}")


if __name__ == "__main__":
    main()
