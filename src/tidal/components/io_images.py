"""Images in: a folder with one subfolder per class, a zip or tar archive of one, or a table of paths or bytes.

Each image becomes a row with its encoded bytes (column ``image``), so the table carries the
images with it through a pipeline; ``vision.to_pixels`` turns them into pixel columns for a
network. Pillow decodes them (``pip install 'tidal-ml[vision]'``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pandas as pd

from tidal.components._vision_images import MAX_PIXELS, image_bytes, image_column, open_image
from tidal.components._vision_sources import Limits, is_archive, read_archive, read_folder
from tidal.core import DataError, Param, component

IMAGES = {"sample": "images"}


@component("io.read_images", title="Read Images", tags={**IMAGES, "source": True, "sample_params": {"path": None}})
def read_images(
    data: pd.DataFrame | None = None,
    *,
    path: Annotated[str | None, Param(help="a folder (one subfolder per class) or a zip/tar archive of one; relative "
                                           "paths start at the workspace. Empty: read the images named in 'data'")] = None,
    column: Annotated[str, Param(help="with a table: its column of image paths or encoded image bytes")] = "image",
    max_images: Annotated[int, Param(ge=1, help="refuse a folder or archive with more images than this")] = 100_000,
    max_image_bytes: Annotated[int, Param(ge=1, help="refuse an image file larger than this (bytes)")] = 50_000_000,
    max_total_bytes: Annotated[int, Param(ge=1, help="refuse a folder or archive whose images add up to more (bytes)")] = 2_000_000_000,
    max_pixels: Annotated[int, Param(ge=1, help="refuse an image of more pixels than this (before decoding it)")] = MAX_PIXELS,
) -> pd.DataFrame:
    """Read images into a table: ``path``, ``label``, ``width``, ``height``, ``mode`` and ``image`` (the file's bytes).

    From a folder, each image file under it is a row, sorted by path; an image in a subfolder
    takes the subfolder's name as its ``label`` (``cats/1.jpg`` -> ``cats``), one at the top has
    none. A zip or tar archive is read the same way, in memory (nothing is extracted); members
    with unsafe paths, links and members over the size limits refuse the archive, by name. From
    a table, ``column`` holds paths (read from disk) or encoded bytes; its other columns are
    kept. Every image is decoded once to check it: one that cannot be read stops the read, naming
    its file (or row).

    Examples
    --------
    >>> import io, tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp())
    >>> for label, shade in (("dark", 20), ("light", 230)):
    ...     (folder / label).mkdir()
    ...     Image.new("L", (4, 3), shade).save(folder / label / "a.png")
    >>> table = read_images(path=str(folder))
    >>> table[["path", "label", "width", "height", "mode"]].values.tolist()
    [['dark/a.png', 'dark', 4, 3, 'L'], ['light/a.png', 'light', 4, 3, 'L']]
    >>> (folder / "light" / "broken.png").write_bytes(b"not an image")
    12
    >>> try:
    ...     read_images(path=str(folder))
    ... except DataError as error:
    ...     print(error)
    image 'light/broken.png' cannot be read: it is not an image file Pillow knows (PNG, JPEG, GIF, BMP, TIFF, WebP ...)
    """
    limits = Limits(max_images=max_images, max_image_bytes=max_image_bytes, max_total_bytes=max_total_bytes)
    if path:
        if data is not None:
            raise DataError("give the images one way: a folder or archive in 'path', or a table in 'data', not both")
        source = Path(os.path.expanduser(path))
        if not source.exists():
            raise DataError(f"parameter 'path': {path} does not exist (looked in {source.resolve().parent})")
        if source.is_dir():
            files = read_folder(source, limits)
        elif is_archive(source):
            files = read_archive(source, limits)
        else:
            raise DataError(f"parameter 'path': {path} is neither a folder nor a zip/tar archive")
        if not files:
            raise DataError(f"parameter 'path': {path} holds no image files (.png, .jpg, .gif, .bmp, .tif, .webp ...)")
        rows = []
        for file in files:
            image = open_image(file.data, f"'{file.path}'", max_pixels)
            rows.append({"path": file.path, "label": file.label, "width": image.width, "height": image.height,
                         "mode": image.mode, "image": file.data})
        return pd.DataFrame(rows, columns=["path", "label", "width", "height", "mode", "image"])
    if data is None:
        raise DataError("give the images: a folder or archive in 'path', or a table with an image column in 'data'")
    cells = image_column(data, column)
    encoded, sizes, modes = [], [], []
    for row, value in enumerate(cells.tolist()):
        where = f"'{value}' (row {row} of column '{column}')" if isinstance(value, str) else f"in row {row} of column '{column}'"
        content = image_bytes(value, f"in row {row} of column '{column}'")
        if len(content) > max_image_bytes:
            raise DataError(f"image {where} is {len(content):,} bytes, over max_image_bytes ({max_image_bytes:,})")
        image = open_image(content, where, max_pixels)
        encoded.append(content)
        sizes.append(image.size)
        modes.append(image.mode)
    result = data.copy()
    result["width"] = [size[0] for size in sizes]
    result["height"] = [size[1] for size in sizes]
    result["mode"] = modes
    result["image"] = encoded
    return result
