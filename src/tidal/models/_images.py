"""Encoded images decoded with limits (Pillow), brought to a mode and size, as pixels: what image
components and the model server share (a network declared to take encoded images gets them decoded
exactly as ``vision.to_pixels`` decodes a table's images).
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from typing import Any

import numpy as np

from tidal.core._errors import DataError, TidalError

#: the most pixels one image may have before it is decoded (a small file can claim a huge size)
MAX_PIXELS = 50_000_000
MODES = ("L", "RGB")
RESAMPLING = ("nearest", "bilinear", "bicubic", "lanczos", "box")
FITS = ("stretch", "crop", "pad")


def pillow() -> Any:
    """The PIL.Image module, or an error that says how to install it."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - the vision extra is installed in development
        raise TidalError("images need Pillow: pip install 'tidal-ml[vision]'") from None
    return Image


def resample_filter(name: str) -> Any:
    if name not in RESAMPLING:
        raise TidalError(f"resample must be one of {', '.join(RESAMPLING)}, got {name!r}")
    return getattr(pillow().Resampling, name.upper())


def open_image(data: bytes, where: str, max_pixels: int = MAX_PIXELS) -> Any:
    """The decoded image in ``data``; ``where`` (a file name, or a row) is named in every error."""
    image_module = pillow()
    from PIL import UnidentifiedImageError

    if len(data) == 0:
        raise DataError(f"image {where} is empty (0 bytes)")
    try:
        image = image_module.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise DataError(f"image {where} is {width}x{height} pixels, over the limit of {max_pixels:,}; "
                            "shrink it first, or raise max_pixels")
        with warnings.catch_warnings():
            warnings.simplefilter("error", image_module.DecompressionBombWarning)
            image.load()
    except DataError:
        raise
    except image_module.DecompressionBombError:
        raise DataError(f"image {where} claims more pixels than the limit of {max_pixels:,} (a decompression bomb?); "
                        "it is not decoded") from None
    except UnidentifiedImageError:
        raise DataError(f"image {where} cannot be read: it is not an image file Pillow knows (PNG, JPEG, GIF, BMP, "
                        "TIFF, WebP ...)") from None
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombWarning) as error:
        raise DataError(f"image {where} cannot be read: {error}") from None
    return image


def convert(image: Any, mode: str) -> Any:
    """``image`` in mode L (grey) or RGB; transparency is laid over white."""
    if mode not in MODES:
        raise TidalError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = pillow().new("RGBA", rgba.size, (255, 255, 255, 255))
        image = pillow().alpha_composite(background, rgba)
    return image.convert(mode)


def fitted(image: Any, width: int, height: int, fit: str, resample: str) -> Any:
    """``image`` at ``width`` x ``height``: stretched, cropped to the aspect (centred) or padded (black)."""
    from PIL import ImageOps

    size, method = (width, height), resample_filter(resample)
    if fit == "stretch":
        return image.resize(size, method)
    if fit == "crop":
        return ImageOps.fit(image, size, method)
    if fit == "pad":
        return ImageOps.pad(image, size, method, color=0)
    raise TidalError(f"fit must be stretch, crop or pad, got {fit!r}")


def pixel_array(image: Any) -> np.ndarray:
    """An image's pixels as ``[C, H, W]`` uint8."""
    array = np.asarray(image, dtype=np.uint8)
    return array[None, :, :] if array.ndim == 2 else np.moveaxis(array, -1, 0)


def image_decoding(channels: int, height: int, width: int, fit: str = "stretch", resample: str = "bilinear",
                   white: float = 1.0) -> dict[str, Any]:
    """How encoded images become a ``[channels, height, width]`` input: mode, size, fit, resampling, and the
    input value of a white pixel (1 for ``vision.to_pixels``' columns, 16 for scikit-learn's digits)."""
    if channels not in (1, 3):
        raise TidalError(f"encoded images fill an input of 1 (grey) or 3 (RGB) channels; this one has {channels}")
    if fit not in FITS:
        raise TidalError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    resample_filter(resample)
    if not (isinstance(white, int | float) and 0 < float(white) < float("inf")):
        raise TidalError(f"white must be a positive number (the input value of a white pixel), got {white!r}")
    return {"mode": "L" if channels == 1 else "RGB", "height": int(height), "width": int(width), "fit": fit,
            "resample": resample, "white": float(white)}


def decode_to_input(data: bytes, decoding: dict[str, Any], where: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One encoded image as the flat ``[C * H * W]`` float64 input ``decoding`` (see :func:`image_decoding`) asks."""
    image = fitted(convert(open_image(data, where, max_pixels), decoding["mode"]), decoding["width"], decoding["height"],
                   decoding["fit"], decoding["resample"])
    return pixel_array(image).reshape(-1) / 255.0 * decoding["white"]


def base64_image(text: str, where: str) -> bytes:
    """An image sent as base64 text (how v2 clients put binary data in a BYTES element)."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"image {where} is not base64 text; send each encoded image (PNG, JPEG ...) base64-encoded") from None
