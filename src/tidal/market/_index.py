"""The market index: a JSON file listing third-party component packages and where their wheels are.

::

    {"tidal_market": 1, "name": "acme", "packages": [
      {"package": "acme-tools", "version": "0.1.0", "summary": "...", "components": ["acme_tools.scale"],
       "licence": "MIT", "wheel": "wheels/acme_tools-0.1.0-py3-none-any.whl", "sha256": "<64 hex digits>"}]}

``wheel`` is a path relative to the index (it must stay inside the index's folder), or an
``https://`` URL (``http://`` only to this machine). Tidal ships an empty index; point
``TIDAL_MARKET_INDEX`` (or ``--index``) at your organisation's index file or URL.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

from tidal.core._errors import NotFound
from tidal.core._json_schema import schema_errors
from tidal.market._fetch import MarketRefused, check_url, is_url, local_path, read_limited

INDEX_VARIABLE = "TIDAL_MARKET_INDEX"
MAX_INDEX_BYTES = 4 * 1024 * 1024
MAX_PACKAGES = 10_000
NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$"
VERSION_PATTERN = r"^[0-9]{1,9}(?:\.[0-9]{1,9}){0,5}(?:(?:a|b|rc)[0-9]{1,9})?(?:\.post[0-9]{1,9})?(?:\.dev[0-9]{1,9})?$"
COMPONENT_PATTERN = r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$"

INDEX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tidal_market", "packages"],
    "additionalProperties": False,
    "properties": {
        "tidal_market": {"const": 1},
        "name": {"type": "string", "maxLength": 200},
        "packages": {
            "type": "array",
            "maxItems": MAX_PACKAGES,
            "items": {
                "type": "object",
                "required": ["package", "version", "summary", "components", "licence", "wheel", "sha256"],
                "additionalProperties": False,
                "properties": {
                    "package": {"type": "string", "pattern": NAME_PATTERN},
                    "version": {"type": "string", "pattern": VERSION_PATTERN},
                    "summary": {"type": "string", "maxLength": 500},
                    "components": {"type": "array", "maxItems": 500, "items": {"type": "string", "pattern": COMPONENT_PATTERN}},
                    "licence": {"type": "string", "minLength": 1, "maxLength": 100},
                    "wheel": {"type": "string", "minLength": 5, "maxLength": 2000},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
            },
        },
    },
}


def canonical_name(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): lower case, runs of ``-_.`` as ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class IndexEntry:
    package: str
    version: str
    summary: str
    components: tuple[str, ...]
    licence: str
    wheel: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "version": self.version, "summary": self.summary, "components": list(self.components),
                "licence": self.licence, "wheel": self.wheel, "sha256": self.sha256}


@dataclass(frozen=True)
class MarketIndex:
    location: str
    name: str
    entries: tuple[IndexEntry, ...]

    def find(self, package: str) -> IndexEntry:
        """The newest entry for ``package`` (entries are listed newest last when several versions appear)."""
        wanted = canonical_name(package)
        matches = [entry for entry in self.entries if canonical_name(entry.package) == wanted]
        if not matches:
            known = ", ".join(sorted({entry.package for entry in self.entries})[:20]) or "none"
            raise NotFound(f"the index {self.location} has no package '{package}' (packages: {known}); "
                           "try `tidal market search WORDS`")
        return matches[-1]

    def search(self, text: str = "") -> list[IndexEntry]:
        words = text.lower().split()
        return [entry for entry in self.entries
                if all(word in f"{entry.package} {entry.summary} {' '.join(entry.components)}".lower() for word in words)]

    def wheel_location(self, entry: IndexEntry) -> str:
        """Where to read ``entry``'s wheel: a local path inside the index's folder, or a checked URL."""
        wheel = entry.wheel
        if "\\" in wheel or "\x00" in wheel:
            raise MarketRefused(f"the wheel of {entry.package} in {self.location} ({wheel!r}) holds a backslash or NUL; use '/'")
        if is_url(wheel):
            if urlsplit(wheel).scheme.lower() == "file":
                raise MarketRefused(f"the wheel of {entry.package} in {self.location} is a file:// URL ({wheel}); an index names "
                                    "its wheels by a path relative to itself or an https:// URL")
            return check_url(wheel, f"the wheel of {entry.package}")
        relative = PurePosixPath(wheel)
        if relative.is_absolute() or ".." in relative.parts:
            raise MarketRefused(f"the wheel of {entry.package} in {self.location} ({wheel}) leaves the index's folder; "
                                "give a path relative to the index, inside its folder")
        index_path = local_path(self.location)
        if index_path is None:  # an index at a URL: its wheels sit under the same URL folder
            return check_url(urljoin(self.location, wheel), f"the wheel of {entry.package}")
        folder = index_path.resolve().parent
        target = (folder / relative).resolve()
        if not target.is_relative_to(folder):
            raise MarketRefused(f"the wheel of {entry.package} in {self.location} ({wheel}) resolves to {target}, "
                                f"outside the index's folder {folder} (a symbolic link?); keep wheels inside it")
        return str(target)


def default_index_location() -> str:
    """``TIDAL_MARKET_INDEX`` when set, else the empty index shipped with Tidal."""
    chosen = os.environ.get(INDEX_VARIABLE, "").strip()
    return chosen or str(files("tidal.market").joinpath("default_index.json"))


def parse_index(text: bytes, location: str) -> MarketIndex:
    """An index from its JSON text, checked against :data:`INDEX_SCHEMA`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise MarketRefused(f"the market index {location} is not valid JSON: {error}") from None
    problems = schema_errors(INDEX_SCHEMA, data)
    if problems:
        where = "/".join(str(part) for part in problems[0].absolute_path) or "(top)"
        message = problems[0].message
        raise MarketRefused(f"the market index {location} is not valid at {where}: {message[:300]}"
                            f"{f' ({len(problems) - 1} more problems)' if len(problems) > 1 else ''}; "
                            "see docs/market.md for the format")
    entries = tuple(IndexEntry(item["package"], item["version"], item["summary"], tuple(item["components"]), item["licence"],
                               item["wheel"], item["sha256"]) for item in data["packages"])
    return MarketIndex(location, data.get("name", location), entries)


def load_index(location: str | Path | None = None) -> MarketIndex:
    """The index at ``location`` (a path, ``file://``, ``https://`` or loopback ``http://``), else the default."""
    where = str(location) if location is not None else default_index_location()
    if is_url(where) and urlsplit(where).scheme.lower() != "file":
        check_url(where, "the market index")
    return parse_index(read_limited(where, MAX_INDEX_BYTES, "the market index"), where)
