"""Installing and removing plug-in packages: the wheel is checked before pip ever sees it.

The order matters: copy the wheel (size-capped) into a private temporary folder, compare its
sha256 with the index's, check that its file name and its own metadata name the entry's package
and version, and only then run ``python -m pip install --no-deps --no-index FILE`` for that exact
file in the current interpreter's environment. Installing runs the package's code on the next
import: that is the trust decision, and it is the user's (see docs/market.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path, PurePosixPath

from tidal.core._errors import NotFound, TidalError
from tidal.market._fetch import MarketRefused, copy_limited
from tidal.market._index import NAME_PATTERN, IndexEntry, MarketIndex, canonical_name, load_index

MAX_WHEEL_BYTES = 512 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024
PIP_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class InstallResult:
    package: str
    version: str
    sha256: str
    wheel: str
    pip_output: str


def check_package_name(package: str) -> str:
    """``package`` if it is a plain distribution name (never an option, a path or a URL)."""
    if not re.fullmatch(NAME_PATTERN, package):
        raise MarketRefused(f"'{package[:100]}' is not a package name: use letters, digits, '-', '_' and '.', "
                            "starting and ending with a letter or digit")
    return package


def _wheel_name(entry: IndexEntry, location: str) -> str:
    name = PurePosixPath(location.rsplit("/", 1)[-1].split("?", 1)[0].split("#", 1)[0]).name
    parts = name[:-4].split("-") if name.endswith(".whl") else []
    if len(parts) not in (5, 6) or canonical_name(parts[0]) != canonical_name(entry.package) or parts[1] != entry.version:
        raise MarketRefused(f"the wheel {name} does not belong to {entry.package} {entry.version}: a wheel's file name must "
                            f"start with '{canonical_name(entry.package).replace('-', '_')}-{entry.version}-'; the index is wrong "
                            "or was tampered with, so nothing was installed")
    return name


def _check_wheel_metadata(path: Path, entry: IndexEntry) -> None:
    """The wheel's own METADATA must name the entry's package and version (a renamed wheel is refused)."""
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = [info for info in archive.infolist()
                        if re.fullmatch(r"[^/]+\.dist-info/METADATA", info.filename)]
            if len(metadata) != 1 or metadata[0].file_size > MAX_METADATA_BYTES:
                raise MarketRefused(f"the wheel for {entry.package} has {len(metadata)} METADATA files (or one too large); "
                                    "it is not a valid wheel, nothing was installed")
            with archive.open(metadata[0]) as stream:
                text = stream.read(MAX_METADATA_BYTES).decode("utf-8", errors="replace")
    except zipfile.BadZipFile:
        raise MarketRefused(f"the wheel for {entry.package} is not a zip archive; nothing was installed") from None
    headers = HeaderParser().parsestr(text)
    name, version = headers.get("Name", ""), headers.get("Version", "")
    if canonical_name(name) != canonical_name(entry.package) or version != entry.version:
        raise MarketRefused(f"the wheel for {entry.package} {entry.version} says it is {name[:100]} {version[:50]}; "
                            "the index entry does not match the wheel, so nothing was installed")


def fetch_wheel(index: MarketIndex, entry: IndexEntry, folder: Path) -> Path:
    """Copy ``entry``'s wheel into ``folder`` and prove it is the one the index describes."""
    location = index.wheel_location(entry)
    target = folder / _wheel_name(entry, location)
    actual = copy_limited(location, target, MAX_WHEEL_BYTES, f"the wheel of {entry.package}")
    if actual != entry.sha256:
        target.unlink()
        raise MarketRefused(f"the wheel of {entry.package} {entry.version} ({location}) has sha256 {actual}, but the index "
                            f"{index.location} says {entry.sha256}; it was changed or corrupted, so nothing was installed")
    _check_wheel_metadata(target, entry)
    return target


def _pip(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *arguments],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False)


def install_package(package: str, index: MarketIndex | str | Path | None = None) -> InstallResult:
    """Install ``package`` from the market index into this interpreter's environment (``--no-deps``)."""
    check_package_name(package)
    market = index if isinstance(index, MarketIndex) else load_index(index)
    entry = market.find(package)
    with tempfile.TemporaryDirectory(prefix="tidal-market-") as scratch:
        wheel = fetch_wheel(market, entry, Path(scratch))
        done = _pip("install", "--no-deps", "--no-index", "--force-reinstall", str(wheel.resolve()))
    if done.returncode != 0:
        raise TidalError(f"pip could not install {entry.package} {entry.version}: {(done.stderr or done.stdout).strip()[-2000:]}")
    return InstallResult(entry.package, entry.version, entry.sha256, wheel.name, done.stdout)


def installed_plugin_version(package: str) -> str:
    """The installed version of plug-in ``package``; refuses a distribution that is not a Tidal plug-in."""
    check_package_name(package)
    try:
        found = distribution(package)
    except PackageNotFoundError:
        raise NotFound(f"no package '{package}' is installed in {sys.prefix}; see `tidal market show` or `pip list`") from None
    if not any(entry.group == "tidal.components" for entry in found.entry_points):
        raise MarketRefused(f"'{package}' is installed but is not a Tidal plug-in (it declares no 'tidal.components' entry point); "
                            "`tidal market remove` only removes plug-ins, use pip for anything else")
    return str(found.version)


def remove_package(package: str) -> str:
    """Uninstall plug-in ``package`` from this interpreter's environment; the version removed."""
    version = installed_plugin_version(package)
    done = _pip("uninstall", "--yes", package)
    if done.returncode != 0:
        raise TidalError(f"pip could not remove {package}: {(done.stderr or done.stdout).strip()[-2000:]}")
    return version
