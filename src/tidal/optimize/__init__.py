"""Model optimization: ONNX export, graph levels, INT8 quantization and runtime options, each measured.

    from tidal.optimize import optimize_model

    result = optimize_model(package, validation, label="target", max_loss="1%", batch_sizes=(1, 32))
    result.pick.winner                 # "int8-static-minmax-pc", or "baseline" (the original kept)
    result.save("optimized")           # optimized/model (a package tidal serve loads), report.json, report.html

Every variant is built, scored on the validation rows and timed on this machine; the fastest one
within the accuracy bound wins, never one slower than the model's own predict. onnxruntime and its
quantizer are imported only when a search runs.

Sentence encoders (flavor ``text_encoder``) are searched through the parts their flavor offers
(:class:`EncoderParts`): their embeddings must keep a mean and a smallest cosine to the original's
(:class:`CosineBound`, default 0.99 and 0.97), and the winner is packaged by the flavor's own rebuild.
"""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "CosineBound": "tidal.optimize._encoder",
    "CpuInfo": "tidal.optimize._cpu",
    "EncoderParts": "tidal.optimize._encoder",
    "LossBound": "tidal.optimize._data",
    "Measurement": "tidal.optimize._pick",
    "OptimizeRefused": "tidal.optimize._data",
    "OptimizeResult": "tidal.optimize._search",
    "Pick": "tidal.optimize._pick",
    "SUPPORTED_FLAVORS": "tidal.optimize._search",
    "Timing": "tidal.optimize._measure",
    "Variant": "tidal.optimize._variants",
    "check_onnx_file": "tidal.optimize._onnx_files",
    "cpu_info": "tidal.optimize._cpu",
    "optimize_model": "tidal.optimize._search",
    "pick": "tidal.optimize._pick",
    "report_digest": "tidal.optimize._output",
    "report_headline": "tidal.optimize._report:headline",
    "report_table": "tidal.optimize._report:rich_table",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from tidal.optimize._cpu import CpuInfo, cpu_info
    from tidal.optimize._data import LossBound, OptimizeRefused
    from tidal.optimize._encoder import CosineBound, EncoderParts
    from tidal.optimize._measure import Timing
    from tidal.optimize._onnx_files import check_onnx_file
    from tidal.optimize._output import report_digest
    from tidal.optimize._pick import Measurement, Pick, pick
    from tidal.optimize._report import headline as report_headline
    from tidal.optimize._report import rich_table as report_table
    from tidal.optimize._search import SUPPORTED_FLAVORS, OptimizeResult, optimize_model
    from tidal.optimize._variants import Variant

__all__ = [
    "SUPPORTED_FLAVORS",
    "CosineBound",
    "CpuInfo",
    "EncoderParts",
    "LossBound",
    "Measurement",
    "OptimizeRefused",
    "OptimizeResult",
    "Pick",
    "Timing",
    "Variant",
    "check_onnx_file",
    "cpu_info",
    "optimize_model",
    "pick",
    "report_digest",
    "report_headline",
    "report_table",
]
