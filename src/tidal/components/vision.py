"""Images as table columns: pixels to images and back, resizing, and seeded augmentation (Pillow).

An image column holds encoded images (PNG bytes, as ``io.read_images`` gives) or paths. Pixel
columns (``pixel_<y>_<x>``, or ``pixel_<c>_<y>_<x>`` for colour) fill a network's
``[batch, C, H, W]`` input in order: ``vision.to_pixels`` makes them, ``vision.train_classifier``
trains on them. Training, fine-tuning, embeddings and search live in :mod:`vision_models`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd

from tidal.components._vision_images import (
    checked_shape,
    convert,
    encode_png,
    fitted,
    images_of,
    pillow,
    pixel_array,
    pixel_columns,
    pixel_names,
)
from tidal.core import Column, Columns, DataError, Param, component

IMAGES = {"sample": "images"}
IMAGE_COLUMN = Annotated[Column, Param(help="the column of encoded images (bytes) or image paths")]
SIZE = Annotated[int, Param(ge=1, le=4096, help="pixels")]
FIT = Annotated[Literal["stretch", "crop", "pad"], Param(help="stretch to the size; crop the centre to its aspect, "
                                                              "then scale; or scale to fit and pad with black")]
RESAMPLE = Annotated[Literal["nearest", "bilinear", "bicubic", "lanczos", "box"], Param(help="Pillow's resampling filter")]
MODE = Annotated[Literal["L", "RGB"], Param(help="L: one grey channel; RGB: three colour channels")]


@component("vision.to_pixels", title="Image to Pixels", tags={**IMAGES, "sample_params": {"width": 8, "height": 8, "prefix": "px"}})
def to_pixels(
    data: pd.DataFrame,
    *,
    column: IMAGE_COLUMN,
    width: SIZE,
    height: SIZE,
    mode: MODE = "L",
    fit: FIT = "stretch",
    resample: RESAMPLE = "bilinear",
    prefix: Annotated[str, Param(help="names of the pixel columns: <prefix>_<y>_<x> (L) or <prefix>_<c>_<y>_<x> (RGB)")] = "pixel",
    keep_columns: Annotated[bool, Param(help="keep the other columns (the image column itself is dropped)")] = True,
) -> pd.DataFrame:
    """Decode each image, convert it to ``mode``, resize it to ``width`` x ``height``, and spread its pixels over columns.

    Pixels are scaled to 0..1 (value / 255) and laid out channel, row, column: read in order
    they fill a network input of shape ``[C, height, width]``. Transparent pixels are laid over
    white. An image that cannot be decoded is named by its row (and file).

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (4, 2), (255, 0, 0)).save(buffer, format="PNG")
    >>> table = pd.DataFrame({"image": [buffer.getvalue()], "label": ["red"]})
    >>> pixels = to_pixels(table, column="image", width=2, height=1, mode="RGB")
    >>> pixels.columns.tolist()
    ['label', 'pixel_0_0_0', 'pixel_0_0_1', 'pixel_1_0_0', 'pixel_1_0_1', 'pixel_2_0_0', 'pixel_2_0_1']
    >>> pixels.iloc[0, 1:].tolist()
    [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    images = images_of(data, column)
    channels = 1 if mode == "L" else 3
    matrix = np.empty((len(images), channels * height * width), dtype=np.float64)
    for row, image in enumerate(images):
        matrix[row] = pixel_array(fitted(convert(image, mode), width, height, fit, resample)).reshape(-1) / 255.0
    pixels = pd.DataFrame(matrix, columns=pixel_names(channels, height, width, prefix), index=data.index)
    if not keep_columns:
        return pixels
    kept = data.drop(columns=[column])
    clashes = [name for name in pixels.columns if name in kept.columns]
    if clashes:
        raise DataError(f"the input already has column '{clashes[0]}'; choose another 'prefix'")
    return pd.concat([kept, pixels], axis=1)


@component("vision.from_pixels", title="Pixels to Image", tags={**IMAGES, "sample_params": {"scale": 1.0}})
def from_pixels(
    data: pd.DataFrame,
    *,
    columns: Annotated[Columns, Param(help="the pixel columns in [C, H, W] order; empty: every <prefix>_... column")] = None,
    prefix: Annotated[str, Param(help="with no 'columns': the pixel columns are those named <prefix>_...")] = "pixel",
    shape: Annotated[list[int] | None, Param(help="[channels, height, width]; empty: read from the column names "
                                                  "(<prefix>_<y>_<x>, <prefix>_<c>_<y>_<x>) or a square")] = None,
    scale: Annotated[float, Param(gt=0, help="the pixel value that is white (255 for 8-bit, 16 for scikit-learn's digits, 1)")] = 255.0,
    output_column: Annotated[str, Param(help="the column of PNG images made")] = "image",
    keep_columns: Annotated[bool, Param(help="keep the other columns (the pixel columns are dropped)")] = True,
) -> pd.DataFrame:
    """Turn pixel columns (one row per image) into PNG images in one column: the way back from ``vision.to_pixels``.

    Values are divided by ``scale``, clipped to 0..1 and rounded to 8 bits. One channel makes a
    grey image, three an RGB image. Use it to augment, resize or look at images that arrive as
    numbers (scikit-learn's digits, MNIST as CSV).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits(as_frame=True).frame.head(3)
    >>> images = from_pixels(digits, scale=16.0)
    >>> images.columns.tolist()
    ['target', 'image']
    >>> from PIL import Image
    >>> import io
    >>> Image.open(io.BytesIO(images["image"][0])).size
    (8, 8)
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input 'data' must be a table, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no images")
    names = pixel_columns(data, columns, prefix)
    channels, height, width = checked_shape(shape, names)
    if channels not in (1, 3):
        raise DataError(f"{channels} channels cannot be an image: give 1 (grey) or 3 (RGB)")
    values = data[names].to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values).any(axis=1))[0])
        raise DataError(f"row {row} has a missing pixel value")
    grey = np.round(np.clip(values / scale, 0.0, 1.0) * 255).astype(np.uint8).reshape(len(data), channels, height, width)
    image_module = pillow()
    encoded = [encode_png(image_module.fromarray(picture[0] if channels == 1 else np.moveaxis(picture, 0, -1)))
               for picture in grey]
    result = data.drop(columns=names) if keep_columns else pd.DataFrame(index=data.index)
    result[output_column] = encoded
    return result


@component("vision.resize", title="Resize Images", tags={**IMAGES, "sample_params": {"width": 6, "height": 6}})
def resize(
    data: pd.DataFrame,
    *,
    column: IMAGE_COLUMN,
    width: SIZE,
    height: SIZE,
    fit: FIT = "stretch",
    resample: RESAMPLE = "bilinear",
    mode: Annotated[Literal["keep", "L", "RGB"], Param(help="keep the image's own colours, or convert")] = "keep",
) -> pd.DataFrame:
    """Resize every image of a column to ``width`` x ``height``; the column then holds the PNG of each.

    ``width`` and ``height`` columns, when present, are updated. The other columns stay.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (40, 20), (0, 128, 255)).save(buffer, format="JPEG")
    >>> table = resize(pd.DataFrame({"image": [buffer.getvalue()]}), column="image", width=8, height=8, fit="pad")
    >>> Image.open(io.BytesIO(table["image"][0])).size
    (8, 8)
    """
    images = images_of(data, column)
    result = data.copy()
    made = [fitted(image if mode == "keep" else convert(image, mode), width, height, fit, resample) for image in images]
    result[column] = [encode_png(image) for image in made]
    if "width" in result.columns:
        result["width"] = width
    if "height" in result.columns:
        result["height"] = height
    return result


@component("vision.augment", title="Augment Images", tags={**IMAGES, "sample_params": {"copies": 1}})
def augment(
    data: pd.DataFrame,
    *,
    column: IMAGE_COLUMN,
    copies: Annotated[int, Param(ge=1, le=100, help="augmented copies made of each image")] = 1,
    keep_original: Annotated[bool, Param(help="keep each original row before its copies")] = True,
    hflip: Annotated[float, Param(ge=0, le=1, help="chance of a left-right flip")] = 0.5,
    vflip: Annotated[float, Param(ge=0, le=1, help="chance of an upside-down flip")] = 0.0,
    rotation: Annotated[float, Param(ge=0, le=180, help="rotate by an angle drawn from [-rotation, rotation] degrees")] = 0.0,
    crop: Annotated[float, Param(gt=0, le=1, help="crop a random part of at least this share of the area (and the "
                                                  "image's aspect), scaled back to the full size; 1: no crop")] = 1.0,
    brightness: Annotated[float, Param(ge=0, lt=1, help="scale brightness by a factor in [1 - b, 1 + b]")] = 0.0,
    contrast: Annotated[float, Param(ge=0, lt=1, help="scale contrast by a factor in [1 - c, 1 + c]")] = 0.0,
    seed: Annotated[int, Param(ge=0, help="the same seed gives the same images")] = 0,
) -> pd.DataFrame:
    """More training images from each one: random flips, crops, rotations and colour jitter, the same for a seed.

    Each copy draws its changes from ``seed``, its row and its copy number alone, so a row's copies
    do not depend on the rows around it. Copies keep the original's size and other columns
    (its label), and a column ``augmented`` tells them apart (0: the original, 1, 2 ...: copies).
    Corners that a rotation uncovers are black.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.linear_gradient("L").resize((8, 8)).save(buffer, format="PNG")
    >>> table = pd.DataFrame({"image": [buffer.getvalue()], "label": [1]})
    >>> more = augment(table, column="image", copies=2, hflip=1.0, rotation=10, seed=3)
    >>> more[["label", "augmented"]].values.tolist()
    [[1, 0], [1, 1], [1, 2]]
    >>> more["image"].tolist() == augment(table, column="image", copies=2, hflip=1.0, rotation=10, seed=3)["image"].tolist()
    True
    """
    from PIL import ImageEnhance, ImageOps

    images = images_of(data, column)
    image_module = pillow()
    rows: list[int] = []
    encoded: list[bytes] = []
    numbers: list[int] = []
    for row, image in enumerate(images):
        if keep_original:
            rows.append(row)
            encoded.append(data[column].iloc[row] if isinstance(data[column].iloc[row], bytes) else encode_png(image))
            numbers.append(0)
        for copy in range(1, copies + 1):
            rng = np.random.default_rng([seed, row, copy])
            draws = rng.random(8)
            made = image.convert("RGB") if image.mode not in ("L", "RGB") else image.copy()
            if draws[0] < hflip:
                made = ImageOps.mirror(made)
            if draws[1] < vflip:
                made = ImageOps.flip(made)
            if crop < 1.0:
                area = crop + (1.0 - crop) * draws[2]
                side = float(np.sqrt(area))
                w, h = max(1, round(made.width * side)), max(1, round(made.height * side))
                left, top = round((made.width - w) * draws[3]), round((made.height - h) * draws[4])
                made = made.resize(image.size, image_module.Resampling.BILINEAR, box=(left, top, left + w, top + h))
            if rotation > 0:
                made = made.rotate((2 * draws[5] - 1) * rotation, image_module.Resampling.BILINEAR)
            if brightness > 0:
                made = ImageEnhance.Brightness(made).enhance(1 + (2 * draws[6] - 1) * brightness)
            if contrast > 0:
                made = ImageEnhance.Contrast(made).enhance(1 + (2 * draws[7] - 1) * contrast)
            rows.append(row)
            encoded.append(encode_png(made))
            numbers.append(copy)
    result = data.iloc[rows].reset_index(drop=True)
    result[column] = encoded
    result["augmented"] = numbers
    return result
