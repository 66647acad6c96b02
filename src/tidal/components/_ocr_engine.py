"""PP-OCR through rapidocr-onnxruntime: the engine (models from the installed package only) and image decoding.

The three ONNX models (PP-OCRv4 text detection, the mobile v2 direction classifier, PP-OCRv4
Chinese/English recognition) and the character list ship inside the ``rapidocr-onnxruntime`` wheel
and are run by onnxruntime. The engine is always built from the package's own configuration:
no model path, configuration file or dictionary is ever taken from a parameter, a table or a
request, and nothing is downloaded. ONNX files are data (a graph and weights), not code.

Images are decoded by Pillow with a pixel limit checked on the header, before any pixel is
decoded (Pillow's ``MAX_IMAGE_PIXELS``, 89.5 million: a 9,500 x 9,500 page). EXIF orientation is
applied, palette and 16-bit images become RGB, and the pixels then go to rapidocr exactly as
rapidocr would read the file itself, so results equal a direct ``RapidOCR()(path)`` call.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidal.components._media_inputs import MediaInput
from tidal.core._errors import DataError, TidalError

#: Pillow's own default limit (its decompression-bomb warning); images above it are refused
MAX_PIXELS = 89_478_485
#: the models rapidocr-onnxruntime 1.4 ships, checked to be inside the installed package
MODEL_FILES = ("ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx")
#: Pillow modes rapidocr takes as they are; anything else is converted first
_DIRECT_MODES = ("L", "RGB", "RGBA", "LA")


@dataclass(frozen=True)
class OcrSettings:
    """What changes the engine: rapidocr's thresholds and the onnxruntime thread count."""

    pixel_threshold: float = 0.3
    box_threshold: float = 0.5
    unclip_ratio: float = 1.6
    text_score: float = 0.5
    use_angle_classifier: bool = True
    threads: int | None = None

    def engine_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {"det_thresh": self.pixel_threshold, "det_box_thresh": self.box_threshold,
                                     "det_unclip_ratio": self.unclip_ratio, "text_score": self.text_score,
                                     "use_cls": self.use_angle_classifier}
        if self.threads is not None:
            arguments["intra_op_num_threads"] = min(int(self.threads), os.cpu_count() or 1)
        return arguments


def model_folder() -> Path:
    """The folder of the shipped ONNX models inside the installed ``rapidocr_onnxruntime`` package."""
    try:
        import rapidocr_onnxruntime
    except ImportError:
        raise TidalError("vision.ocr runs PP-OCR models that ship in rapidocr-onnxruntime: "
                         "pip install 'tidal-ml[ocr]'") from None
    except OSError as error:  # OpenCV's GUI build without libGL
        raise TidalError(f"OpenCV could not load ({error}): install opencv-python-headless instead of opencv-python "
                         "(see docs/ocr.md)") from None
    folder = Path(rapidocr_onnxruntime.__file__).resolve().parent / "models"
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise TidalError(f"the installed rapidocr-onnxruntime lacks {', '.join(missing)} in {folder}: "
                         "reinstall it (pip install --force-reinstall 'rapidocr-onnxruntime>=1.4,<1.5')")
    return folder


@functools.lru_cache(maxsize=2)
def engine(settings: OcrSettings) -> Any:
    """A RapidOCR engine for ``settings``, built once per process from the package's own models."""
    model_folder()
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(**settings.engine_arguments())


def read_image(item: MediaInput) -> Any:
    """The decoded image (a Pillow image rapidocr takes as is), or a DataError naming the input."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    stream = item.open()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                opened = Image.open(stream)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise DataError(f"{item.label}: the image has more than {MAX_PIXELS:,} pixels; "
                                "scale it down or cut it into pages first") from None
            except UnidentifiedImageError:
                raise DataError(f"{item.label} is not an image Pillow can read (PNG, JPEG, TIFF, BMP, WebP, GIF ...)") from None
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise DataError(f"{item.label}: the image is {width} x {height} = {width * height:,} pixels, over the "
                                f"limit of {MAX_PIXELS:,}; scale it down or cut it into pages first")
            if width < 1 or height < 1:
                raise DataError(f"{item.label}: the image is empty ({width} x {height})")
            try:
                opened.load()
                image: Image.Image = ImageOps.exif_transpose(opened)
            except (OSError, ValueError, SyntaxError) as error:
                raise DataError(f"{item.label}: the image cannot be decoded ({error}); is the file complete?") from None
    finally:
        stream.close()
    if image.mode not in _DIRECT_MODES:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    return image


BOX_COLUMNS = ["x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"]


def recognise(ocr: Any, image: Any) -> list[tuple[list[list[float]], str, float]]:
    """(box corners, text, score) per text line found, in reading order, as rapidocr returns them."""
    result, _ = ocr(image)
    return [(box, str(text), float(score)) for box, text, score in (result or [])]
