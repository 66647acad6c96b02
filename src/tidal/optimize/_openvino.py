"""OpenVINO and NNCF variants, where the ``openvino`` extra is installed.

Any model with a float32 ONNX graph (:func:`graph_variants`) gets **openvino-fp32** (the graph compiled
by OpenVINO for the CPU in float32: measured, not packaged) and **nncf-int8-onnx** (NNCF's post-training
INT8 of the ONNX graph, calibrated on validation rows: a QDQ graph that onnxruntime runs, packaged when it
wins; the search's own bound judges it). A sentence encoder gets the accuracy-controlled recipes below.

Three variants join the encoder search (:mod:`tidal.optimize._encoder_search`) when ``openvino`` and
``nncf`` import; without them the report lists them as skipped, naming the extra:

* **openvino-fp32**: the float32 ONNX export read by OpenVINO's runtime and compiled for the CPU in
  float32 (``INFERENCE_PRECISION_HINT`` f32: on a CPU with bf16, OpenVINO would otherwise run in bf16),
  latency hint;
* **openvino-int8-nncf-ac**: NNCF's accuracy-controlled quantization of that model
  (``nncf.quantize_with_accuracy_control``, transformer preset) with the search's own bound as the
  metric: NNCF quantizes, measures the mean cosine of the embeddings to the original's on validation
  texts, and returns layers to float32 until the drop is within ``1 - cosine.mean``;
* **nncf-int8-onnx-ac**: the same accuracy-controlled quantization applied to the ONNX graph itself,
  which gives a QDQ graph that onnxruntime runs; it is packaged like Tidal's own INT8 graphs when it
  wins. (When NNCF's first quantization is within the drop already, it is returned as it is: the
  plain transformer recipe.)

The OpenVINO-run variants are measured and reported but never packaged: the packaged flavors run
ONNX graphs in onnxruntime. The search then checks every variant against the bound itself (mean
and smallest cosine), as for any other.

NNCF sends usage telemetry to Google Analytics unless it believes it runs in CI; Tidal never lets a
library phone home, so NNCF is imported with ``NNCF_CI`` set (:func:`_nncf`). OpenVINO's model
converter (``ov.convert_model``) has telemetry too and is not used: ``Core.read_model`` reads the
ONNX file with the runtime's own frontend.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.optimize._data import row_cosines
from tidal.optimize._encoder import INPUTS, OUTPUT, CosineBound, EncoderParts, EncoderRunner
from tidal.optimize._measure import OnnxRunner, Runner
from tidal.optimize._quantize import quiet
from tidal.optimize._variants import Context, Skipped, Variant

EXTRA = "openvino"
#: what a missing extra is reported as
MISSING = f"OpenVINO and NNCF are not installed (pip install 'tidal-ml[{EXTRA}]'); their variants were not tried"


def installed() -> str | None:
    """``"openvino X, nncf Y"`` when both import, else ``None``."""
    try:
        import openvino
    except ImportError:
        return None
    try:
        nncf = _nncf()
    except ImportError:
        return None
    return f"openvino {openvino.__version__.split('-')[0]}, nncf {nncf.__version__}"


def _nncf() -> Any:
    """NNCF, imported with its telemetry off (see the module notes)."""
    if "nncf" not in sys.modules:
        os.environ.setdefault("NNCF_CI", "1")
    import nncf
    import nncf.telemetry as package
    from nncf.telemetry import decorator, wrapper

    if not isinstance(wrapper.telemetry, wrapper.NNCFTelemetryStub):  # imported before us, telemetry on: off now
        stub = wrapper.NNCFTelemetryStub()
        for module in (wrapper, package, decorator):  # every module that holds the object NNCF's calls send through
            module.telemetry = stub  # type: ignore[attr-defined]
    return nncf


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """NNCF's logs and progress bars kept off the terminal while it quantizes."""
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with quiet():
            yield
    finally:
        logger.setLevel(level)


class OpenVinoEncoderRunner(EncoderRunner):
    """An encoder model (``openvino.Model``) compiled for the CPU in float32 with the latency hint."""

    def __init__(self, parts: EncoderParts, model: Any, threads: int | None = None) -> None:
        import openvino

        super().__init__(parts)
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = openvino.Core().compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.output = self.compiled.output(OUTPUT)

    def embed(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.parts.tokenize(texts, None)
        produced = self.request.infer({INPUTS[0]: ids, INPUTS[1]: mask})[self.output]
        return np.array(produced, dtype=np.float32)  # a copy: the request reuses its output buffer


Item = tuple[dict[str, np.ndarray], np.ndarray]


def _items(parts: EncoderParts, texts: list[str], reference: np.ndarray) -> list[Item]:
    """One text a item (no padding: NNCF ranks layers by their effect on each text), with its original embedding."""
    found = []
    for text, row in zip(texts, reference, strict=True):
        ids, mask = parts.tokenize([text], None)
        found.append(({INPUTS[0]: ids, INPUTS[1]: mask}, row))
    return found


def _cosines(embed: Callable[[dict[str, np.ndarray]], np.ndarray], items: Iterable[Item]) -> tuple[float, list[float]]:
    values = []
    for feeds, reference in items:
        values.append(float(row_cosines(reference[None, :], embed(feeds))[0]))
    return float(np.mean(values)) if values else 1.0, values


def _validate_openvino(compiled: Any, items: Iterable[Item]) -> tuple[float, list[float]]:
    """NNCF's validation function on the OpenVINO backend: mean cosine to the original, and each text's."""
    output = compiled.output(OUTPUT)
    return _cosines(lambda feeds: np.asarray(compiled(feeds)[output], dtype=np.float32), items)


def _validate_onnx(model: Any, items: Iterable[Item]) -> tuple[float, list[float]]:
    """NNCF's validation function on the ONNX backend (it hands over the graph): the same figures."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return _cosines(lambda feeds: np.asarray(session.run([OUTPUT], feeds)[0], dtype=np.float32), items)


class OpenVinoPlan:
    """The OpenVINO and NNCF variants of one encoder search: what they share (texts, their original embeddings,
    the bound) and how each is made."""

    def __init__(self, parts: EncoderParts, texts: list[str], reference: np.ndarray, bound: CosineBound,
                 onnx_runner: Callable[[Path], Runner]) -> None:
        self.parts, self.bound, self.onnx_runner = parts, bound, onnx_runner
        self.items = _items(parts, texts, reference)
        self.max_drop = max(0.0, 1.0 - bound.mean)

    def _dataset(self) -> Any:
        nncf = _nncf()
        return nncf.Dataset(self.items, lambda item: item[0])

    def _quantize(self, model: Any, validate: Callable[..., tuple[float, list[float]]]) -> Any:
        """NNCF's accuracy-controlled quantization of ``model``."""
        nncf = _nncf()
        with _silenced():
            return nncf.quantize_with_accuracy_control(
                model, self._dataset(), self._dataset(), validate, max_drop=self.max_drop,
                drop_type=nncf.DropType.ABSOLUTE, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(self.items))

    def variants(self, fp32: Path, folder: Path) -> list[Variant]:
        def openvino_fp32(context: Context) -> tuple[Runner, Path | None]:
            import openvino

            return OpenVinoEncoderRunner(self.parts, openvino.Core().read_model(str(fp32))), None

        def openvino_int8(context: Context) -> tuple[Runner, Path | None]:
            import openvino

            model = self._quantize(openvino.Core().read_model(str(fp32)), _validate_openvino)
            return OpenVinoEncoderRunner(self.parts, model), None

        def onnx_int8(context: Context) -> tuple[Runner, Path | None]:
            import onnx

            model = self._quantize(onnx.load(str(fp32)), _validate_onnx)
            target = folder / "nncf-int8-onnx-ac.onnx"
            onnx.save(model, str(target))
            return self.onnx_runner(target), target

        unpacked = "run by OpenVINO's runtime: measured for the report; the packaged flavors run ONNX in onnxruntime"
        control = (f"NNCF's accuracy control: layers back to float32 until the mean cosine drops at most "
                   f"{self.max_drop:g}")
        return [
            Variant("openvino-fp32", "openvino", {"runtime": "openvino", "precision": "f32"}, openvino_fp32,
                    packable=False, note=unpacked),
            Variant("openvino-int8-nncf-ac", "openvino", {"runtime": "openvino", "quantization": "nncf-accuracy-control",
                                                           "max_drop": self.max_drop}, openvino_int8, packable=False,
                    note=f"{control}; {unpacked}"),
            Variant("nncf-int8-onnx-ac", "int8-nncf", {"quantization": "nncf-accuracy-control", "max_drop": self.max_drop,
                                                        "recipe": "NNCF transformer preset, QDQ, accuracy control"},
                    onnx_int8, note=f"{control}; the QDQ graph runs in onnxruntime"),
        ]


def skipped() -> list[Skipped]:
    """The report's line when the extra is missing."""
    return [Skipped("openvino", MISSING)]


class OpenVinoGraphRunner(OnnxRunner):
    """A tabular or image model's ONNX graph compiled by OpenVINO for the CPU in float32, fed as onnxruntime's
    session would be (one matrix, or one input per column)."""

    def __init__(self, path: Path, features: list[str], classifier: bool, label_output: str | None = None,
                 proba_output: str | None = None) -> None:
        import openvino

        super().__init__(path, features, classifier, {}, label_output, proba_output)
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
        core = openvino.Core()
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.request = self.compiled.create_infer_request()

    def answer(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        produced = self.request.infer(self.feed(frame))
        prediction = np.array(produced[self.compiled.output(self.label_output)])
        prediction = prediction.ravel() if prediction.ndim > 1 and prediction.shape[1] == 1 else prediction
        probabilities = None
        if self.proba_output:
            probabilities = np.array(produced[self.compiled.output(self.proba_output)], dtype=np.float64)
        return prediction, probabilities


#: metrics NNCF's accuracy control uses as they are: computable on any subset of rows, and per row
SUBSET_METRICS = ("accuracy", "log_loss", "rmse")
#: metrics defined only on many rows (AUC needs both classes, R² a spread of values): NNCF's accuracy control
#: judges the drop with them on all the validation rows it holds, and ranks rows and layers by the per-row figure
#: of the metric named here (the log-probability of the true class; the negative squared error)
WHOLE_SET_METRICS = {"auc": "log_loss", "r2": "rmse"}


def _row_values(metric: str, truth: np.ndarray, prediction: np.ndarray, probabilities: np.ndarray | None,
                classes: list[Any] | None) -> list[float]:
    """Each row's own figure, higher is better (NNCF ranks the layers by how they change these)."""
    if metric == "rmse":
        return [-float(value) for value in (np.asarray(prediction, dtype=np.float64) - truth) ** 2]
    if metric == "accuracy":
        return [float(str(a) == str(b)) for a, b in zip(truth, prediction, strict=True)]
    assert probabilities is not None and classes
    index = {str(value): position for position, value in enumerate(classes)}
    return [float(np.log(max(float(probabilities[row][index[str(value)]]), 1e-15))) for row, value in enumerate(truth)]


def graph_variants(context: Context, metric: str | None = None, truth: np.ndarray | None = None,
                   allowed: float | None = None) -> list[Variant]:
    """OpenVINO FP32 (measured, not packaged) and NNCF's INT8 of the ONNX graph (a QDQ graph that onnxruntime
    runs: packaged when it wins) for the float32 graph of a model that is not a sentence encoder. With a
    ``metric`` (:data:`SUBSET_METRICS`, :data:`WHOLE_SET_METRICS`), the INT8 is accuracy-controlled: NNCF keeps
    layers in float32 until the metric drops at most ``allowed`` on up to 300 validation rows."""
    from tidal.optimize._data import score

    unpacked = "run by OpenVINO's runtime: measured for the report; the packaged flavors run ONNX in onnxruntime"
    controlled = (metric in SUBSET_METRICS or metric in WHOLE_SET_METRICS) and truth is not None and allowed is not None
    name = "nncf-int8-onnx-ac" if controlled else "nncf-int8-onnx"
    sign = -1.0 if metric in ("log_loss", "rmse") else 1.0  # NNCF's metric rises with quality
    per_row = WHOLE_SET_METRICS.get(metric or "", metric or "")

    def openvino_fp32(context: Context) -> tuple[Runner, Path | None]:
        assert context.fp32 is not None
        chosen = getattr(context.package.model, "settings", {}) if context.package.flavor == "onnx" else {}
        return OpenVinoGraphRunner(context.fp32, list(context.package.features), context.classifier,
                                   chosen.get("label_output"), chosen.get("proba_output")), None

    def nncf_int8(context: Context) -> tuple[Runner, Path | None]:
        import onnx
        import onnxruntime

        assert context.fp32 is not None
        nncf = _nncf()
        feeder = context.onnx_runner(context.fp32, {})
        picked = np.linspace(0, len(context.frame) - 1, min(len(context.frame), 300)).astype(int)
        rows = context.frame.iloc[picked]
        items = [(feeder.feed(rows.iloc[[index]]), int(row)) for index, row in enumerate(picked)]
        dataset = nncf.Dataset(items, lambda item: item[0])

        def validate(model: Any, chunk: Iterable[tuple[dict[str, np.ndarray], int]]) -> tuple[float, list[float]]:
            assert metric is not None and truth is not None
            session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            wanted = [feeder.label_output] + ([feeder.proba_output] if feeder.proba_output else [])
            found = list(chunk)
            answers = [session.run(wanted, feeds) for feeds, _ in found]
            prediction = np.concatenate([np.asarray(answer[0]).reshape(-1) for answer in answers])
            probabilities = (np.vstack([np.asarray(answer[1], dtype=np.float64) for answer in answers])
                             if feeder.proba_output else None)
            rows_truth = truth[[row for _, row in found]]
            rows = _row_values(per_row, rows_truth, prediction, probabilities, context.package.classes)
            if metric in WHOLE_SET_METRICS and len(found) < len(items):
                return float(np.mean(rows)), rows  # one row, or a subset NNCF ranks on: the per-row figure's mean
            return sign * score(metric, rows_truth, prediction, probabilities, context.package.classes), rows

        with _silenced():
            if controlled:
                from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

                model = nncf.quantize_with_accuracy_control(
                    onnx.load(str(context.fp32)), dataset, dataset, validate, max_drop=allowed,
                    drop_type=nncf.DropType.ABSOLUTE, subset_size=len(items),
                    advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                        ranking_subset_size=len(items)))
            else:
                model = nncf.quantize(onnx.load(str(context.fp32)), dataset, subset_size=len(items))
        target = context.folder / f"{name}.onnx"
        onnx.save(model, str(target))
        return context.onnx_runner(target, {"graph_level": "all"}), target

    if controlled:
        settings = {"quantization": "nncf-accuracy-control", "max_drop": allowed,
                    "recipe": "NNCF's default preset, QDQ, accuracy control"}
        note = (f"NNCF's accuracy control: layers back to float32 until {metric} drops at most {allowed:.4g} on up to "
                "300 validation rows; the QDQ graph runs in onnxruntime")
        if metric in WHOLE_SET_METRICS:
            note += (f" ({metric} is judged on all those rows; rows and layers are ranked by the per-row "
                     f"{'log-probability of the true class' if metric == 'auc' else 'squared error'})")
    else:
        settings = {"quantization": "nncf", "recipe": "NNCF's default preset, QDQ"}
        why = "no metric was given"
        note = (f"NNCF's post-training quantization of the ONNX graph, calibrated on up to 300 validation rows, "
                f"without accuracy control ({why}); the QDQ graph runs in onnxruntime")
    return [Variant("openvino-fp32", "openvino", {"runtime": "openvino", "precision": "f32"}, openvino_fp32,
                    packable=False, note=unpacked),
            Variant(name, "int8-nncf", settings, nncf_int8, note=note)]
