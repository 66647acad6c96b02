"""Images in tables: decoding (Pillow) with size limits, resizing, pixel columns and their names.

An image column holds encoded files (PNG, JPEG ... as bytes) or paths to them. Pixel columns hold
one number per channel and position, named ``pixel_<y>_<x>`` for one channel (as scikit-learn's
digits are) and ``pixel_<c>_<y>_<x>`` for several; read in order they fill ``[C, H, W]`` row-major,
which is how a network's ``[batch, C, H, W]`` input is filled from a table.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from tidal.core._errors import DataError, TidalError
from tidal.models._images import (  # noqa: F401 - the decoding helpers live with the models: the server uses them too
    MAX_PIXELS,
    MODES,
    RESAMPLING,
    convert,
    fitted,
    open_image,
    pillow,
    pixel_array,
    resample_filter,
)

#: the largest encoded image read from a file, an archive member or a table cell
MAX_IMAGE_BYTES = 50_000_000
_NAME = re.compile(r"^(?P<prefix>.*?)_(?P<numbers>\d+(?:_\d+){1,2})$")


def read_image_file(path: Path, where: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of an image file, refused above ``max_bytes``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"image {where} is {size:,} bytes, over the limit of {max_bytes:,}")
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"image {where} cannot be read: {error.strerror or error}") from None


def image_bytes(value: Any, where: str, base: Path | None = None) -> bytes:
    """A table cell as encoded image bytes: bytes as they are, a string as a path to read."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and value:
        path = Path(os.path.expanduser(value))
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            raise DataError(f"image {where}: file '{value}' does not exist (looked in {path.resolve().parent})")
        return read_image_file(path, f"'{value}' ({where})")
    raise DataError(f"image {where} is {'missing' if value is None or value != value else type(value).__name__}; "
                    "an image column holds encoded images (bytes) or paths to image files")


def image_column(data: Any, column: str, what: str = "data") -> pd.Series:
    """The image column of a table, checked: a table, not empty, the column present."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input '{what}' must be a table, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError(f"input '{what}' is empty: there are no images")
    if column not in data.columns:
        raise DataError(f"input '{what}' has no image column '{column}' (columns: {', '.join(map(str, data.columns[:20]))})")
    return data[column]


def images_of(data: pd.DataFrame, column: str, what: str = "data") -> list[Any]:
    """Every image of the column, decoded; each error names the row (and the file, for paths)."""
    cells = image_column(data, column, what)
    return [open_image(image_bytes(value, f"in row {row} of column '{column}'"), f"in row {row} of column '{column}'")
            for row, value in enumerate(cells.tolist())]


def encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixel_names(channels: int, height: int, width: int, prefix: str = "pixel") -> list[str]:
    if channels == 1:
        return [f"{prefix}_{y}_{x}" for y in range(height) for x in range(width)]
    return [f"{prefix}_{c}_{y}_{x}" for c in range(channels) for y in range(height) for x in range(width)]


def shape_of(columns: list[str]) -> tuple[int, int, int]:
    """``[C, H, W]`` from pixel column names (``pixel_y_x`` or ``pixel_c_y_x``), checked to be complete and in order."""
    if not columns:
        raise DataError("there are no pixel columns")
    parsed = [_NAME.match(str(name)) for name in columns]
    if all(parsed):
        numbers = [tuple(int(part) for part in match.group("numbers").split("_")) for match in parsed if match]
        if len({len(item) for item in numbers}) == 1:
            if len(numbers[0]) == 2:
                numbers = [(0, *item) for item in numbers]
            channels, height, width = (max(item[axis] for item in numbers) + 1 for axis in range(3))
            expected = [(c, y, x) for c in range(channels) for y in range(height) for x in range(width)]
            if numbers == expected:
                return channels, height, width
    side = int(round(len(columns) ** 0.5))
    if side * side == len(columns):
        return 1, side, side
    raise DataError(f"cannot tell the image shape of {len(columns)} pixel columns ({columns[0]} ... {columns[-1]}): "
                    "name them <prefix>_<y>_<x> or <prefix>_<c>_<y>_<x> in order, or give 'shape' [C, H, W]")


def pixel_columns(data: pd.DataFrame, columns: list[str] | None, prefix: str, label: str | None = None) -> list[str]:
    """The pixel columns: those named, or every column ``<prefix>_...`` (numeric), in table order."""
    if columns:
        missing = [name for name in columns if name not in data.columns]
        if missing:
            raise DataError(f"pixel column(s) {', '.join(map(repr, missing[:5]))} are not in the table")
        return list(columns)
    found = [str(name) for name in data.columns if str(name).startswith(f"{prefix}_") and name != label
             and pd.api.types.is_numeric_dtype(data[name])]
    if not found:
        raise DataError(f"the table has no pixel columns '{prefix}_...' (columns: {', '.join(map(str, data.columns[:10]))}); "
                        "make them with vision.to_pixels, or name them in 'features'")
    return found


def checked_shape(shape: list[int] | None, columns: list[str]) -> tuple[int, int, int]:
    if not shape:
        return shape_of(columns)
    if len(shape) != 3 or any(int(size) < 1 for size in shape):
        raise TidalError(f"shape must be [channels, height, width], got {shape}")
    channels, height, width = (int(size) for size in shape)
    if channels * height * width != len(columns):
        raise DataError(f"shape {list(shape)} takes {channels * height * width} pixel columns, the table gives {len(columns)}")
    return channels, height, width
