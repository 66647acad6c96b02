"""Image files from a folder or an archive (zip, tar, tar.gz), read into memory with limits.

A folder (or an archive) with one subfolder per class gives labelled images (``cats/1.jpg`` has
label ``cats``); images at the top have no label. An archive whose members all sit under one
top folder is read as that folder. Archives are never extracted to disk: members are read into
memory, and a member whose name is absolute or climbs out (``..``), a link, a device, or a
member over the size limits is refused by name. The count and total size are capped too.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tidal.core._errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


@dataclass(frozen=True)
class Limits:
    max_images: int
    max_image_bytes: int
    max_total_bytes: int


@dataclass(frozen=True)
class ImageFile:
    path: str  # relative to the folder or archive, with /
    label: str | None
    data: bytes


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _label(parts: tuple[str, ...]) -> str | None:
    return parts[0] if len(parts) > 1 else None


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not PurePosixPath(name).name.startswith(".")


class _Budget:
    def __init__(self, limits: Limits, source: str) -> None:
        self.limits, self.source, self.count, self.total = limits, source, 0, 0

    def take(self, name: str, size: int) -> None:
        limits = self.limits
        if size > limits.max_image_bytes:
            raise DataError(f"{self.source}: '{name}' is {size:,} bytes, over max_image_bytes ({limits.max_image_bytes:,})")
        self.count += 1
        self.total += size
        if self.count > limits.max_images:
            raise DataError(f"{self.source} holds more than max_images ({limits.max_images:,}) images; raise the limit "
                            "or split the data")
        if self.total > limits.max_total_bytes:
            raise DataError(f"{self.source}: the images add up to more than max_total_bytes ({limits.max_total_bytes:,})")


def read_folder(folder: Path, limits: Limits) -> list[ImageFile]:
    """Every image under ``folder`` (class subfolders one level down), sorted by path; links are not followed."""
    budget = _Budget(limits, f"folder {folder}")
    found: list[ImageFile] = []
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder)
        if file.is_symlink() or not file.is_file() or not _is_image(file.name):
            continue
        if len(relative.parts) > 2:
            raise DataError(f"folder {folder}: '{relative.as_posix()}' is nested {len(relative.parts) - 1} folders deep; "
                            "put images in one subfolder per class (class/image.png)")
        budget.take(relative.as_posix(), file.stat().st_size)
        try:
            data = file.read_bytes()
        except OSError as error:
            raise DataError(f"image '{relative.as_posix()}' in {folder} cannot be read: {error.strerror or error}") from None
        found.append(ImageFile(relative.as_posix(), _label(relative.parts), data))
    return found


def _safe_parts(name: str, source: str) -> tuple[str, ...]:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DataError(f"{source}: member '{name}' has an unsafe path (absolute, or climbing out with '..'); "
                        "the archive is refused")
    return tuple(part for part in path.parts if part not in ("", "."))


def _members(archive: Path, limits: Limits) -> list[tuple[tuple[str, ...], bytes]]:
    source = f"archive {archive.name}"
    budget = _Budget(limits, source)
    members: list[tuple[tuple[str, ...], bytes]] = []
    if archive.name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(archive) as bundle:
                for info in bundle.infolist():
                    parts = _safe_parts(info.filename, source)
                    if info.is_dir() or not _is_image(info.filename):
                        continue
                    budget.take(info.filename, info.file_size)
                    with bundle.open(info) as handle:
                        data = handle.read(limits.max_image_bytes + 1)
                    if len(data) > limits.max_image_bytes:
                        raise DataError(f"{source}: '{info.filename}' unpacks past max_image_bytes ({limits.max_image_bytes:,})")
                    members.append((parts, data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as error:
            raise DataError(f"{source} cannot be read as a zip file: {error}") from None
        return members
    try:
        with tarfile.open(archive, mode="r:*") as bundle:
            for member in bundle:
                parts = _safe_parts(member.name, source)
                if member.isdir() or not _is_image(member.name):
                    continue
                if not member.isfile():
                    raise DataError(f"{source}: member '{member.name}' is a link or a special file; the archive is refused")
                budget.take(member.name, member.size)
                content = bundle.extractfile(member)
                if content is None:  # pragma: no cover - isfile() members always have one
                    continue
                members.append((parts, content.read(limits.max_image_bytes + 1)))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"{source} cannot be read as a tar archive: {error}") from None
    return members


def read_archive(archive: Path, limits: Limits) -> list[ImageFile]:
    """Every image in a zip or tar archive, sorted by path; one common top folder is dropped."""
    members = _members(archive, limits)
    tops = {parts[0] for parts, _ in members if len(parts) > 1}
    if members and len(tops) == 1 and all(len(parts) > 1 for parts, _ in members):
        if any(len(parts) > 2 for parts, _ in members):
            members = [(parts[1:], data) for parts, data in members]
    found = []
    for parts, data in sorted(members):
        if len(parts) > 2:
            raise DataError(f"archive {archive.name}: '{'/'.join(parts)}' is nested too deep; put images in one folder "
                            "per class (class/image.png)")
        found.append(ImageFile("/".join(parts), _label(parts), data))
    return found
