"""Exporting a model package to ONNX, and scoring the result with onnxruntime for the check.

scikit-learn estimators and pipelines go through skl2onnx (with onnxmltools' LightGBM and XGBoost
converters registered, for pipelines that hold one); LightGBM and XGBoost boosters through
onnxmltools. The graph is then given the shape ``tidal serve FILE.onnx`` reads back without any
other description:

* one float32 ``[N, 1]`` input per feature, named as the feature (a ``Concat`` feeds the
  converter's single matrix input), so clients send named columns;
* for classifiers, a label output and a ``[N, classes]`` probability tensor (no ZipMap), the class
  labels in the classifier node being the package's own classes;
* a symbolic batch dimension on every output; the package's source and label in the metadata.

Float32 is what ONNX tree ensembles compute in, and what scikit-learn's trees compare in too;
LightGBM compares in float64, so a value within float32 rounding of one of its split points may
take the other branch in the graph. :data:`SPLIT_POINT_NOTE` says so in the report.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tidal.models._export_check import ExportRefused

EXTRA_HINT = "install the export extra: pip install 'tidal-ml[export]'"
#: the ONNX opset onnxmltools' booster converters write (the newest they support)
BOOSTER_OPSET = 15
SPLIT_POINT_NOTE = ("LightGBM compares in float64 and the ONNX graph in float32: values within float32 rounding of "
                    "a split point were not probed, and may take the other branch in the graph")


def require(*modules: str) -> None:
    """Import ``modules`` or refuse, naming the extra that installs them."""
    missing = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ExportRefused(f"exporting to ONNX needs {', '.join(missing)} (not installed); {EXTRA_HINT}")


def converter_version(package: Any) -> str:
    name = "onnxmltools" if _kind(package) in ("lightgbm", "xgboost") else "skl2onnx"
    return f"{name} {importlib.metadata.version(name)}"


def _kind(package: Any) -> str:
    module = type(package.model).__module__
    if module.startswith("lightgbm"):
        return "lightgbm"
    if module.startswith("xgboost"):
        return "xgboost"
    from sklearn.base import BaseEstimator

    if isinstance(package.model, BaseEstimator):
        return "sklearn"
    raise ExportRefused(f"a model of flavor '{package.flavor}' ({type(package.model).__name__}) cannot be exported: "
                        "ONNX export takes scikit-learn estimators and pipelines, LightGBM and XGBoost models")


# -- converting ------------------------------------------------------------------------------------


def convert(package: Any, target: Path, source: str) -> Path:
    """Write ``package`` as an ONNX file at ``target`` (a scratch path; the caller checks it before use)."""
    require("onnx", "onnxruntime", "skl2onnx", "onnxmltools")
    import onnx

    kind = _kind(package)
    width = len(package.features)
    classifier = package.task in ("binary", "multiclass")
    try:
        if kind == "sklearn":
            model = _from_sklearn(package.model, width, classifier)
        elif kind == "lightgbm":
            model = _from_lightgbm(package, width, classifier)
        else:
            model = _from_xgboost(package, width, classifier)
    except ExportRefused:
        raise
    except Exception as error:  # the converters' own exceptions: name the model part they could not convert
        raise ExportRefused(f"{converter_version(package)} cannot convert this {type(package.model).__name__}: "
                            f"{_first_line(error)}") from None
    graph = model.graph
    if len(graph.input) != 1:
        raise ExportRefused(f"the converted graph has {len(graph.input)} inputs; one feature matrix was expected")
    _feed_by_column(graph, list(package.features))
    if not any(item.domain in ("", "ai.onnx") for item in model.opset_import):  # the Concat needs the default domain
        model.opset_import.append(onnx.helper.make_opsetid("", BOOSTER_OPSET))
    _free_batch_dimension(graph)
    if classifier:
        _set_class_labels(graph, list(package.classes or []), kind)
    return write_checked(model, target, {"tidal.source": source, "tidal.task": package.task,
                                         "tidal.label": package.label or ""})


def write_checked(model: Any, target: Path, properties: dict[str, str | None]) -> Path:
    """Stamp ``properties`` (the non-empty ones) on an ONNX model, check it, and write it to ``target``."""
    import onnx

    for key, value in properties.items():
        if value:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:
        raise ExportRefused(f"the exported ONNX graph is not valid: {_first_line(error)}") from None
    target.write_bytes(model.SerializeToString())
    return target


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


_registered = False


def _register_booster_converters() -> None:
    """Let skl2onnx convert LightGBM and XGBoost models inside scikit-learn pipelines (onnxmltools' converters)."""
    global _registered
    if _registered:
        return
    _registered = True
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        import lightgbm
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(lightgbm.LGBMClassifier, "LightGbmLGBMClassifier",
                                    calculate_linear_classifier_output_shapes, convert_lightgbm, options=options)
        update_registered_converter(lightgbm.LGBMRegressor, "LightGbmLGBMRegressor",
                                    calculate_linear_regressor_output_shapes, convert_lightgbm, options={"split": None})
    except ImportError:
        pass
    try:
        import xgboost
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        update_registered_converter(xgboost.XGBClassifier, "XGBoostXGBClassifier",
                                    calculate_linear_classifier_output_shapes, convert_xgboost, options=options)
        update_registered_converter(xgboost.XGBRegressor, "XGBoostXGBRegressor",
                                    calculate_linear_regressor_output_shapes, convert_xgboost)
    except ImportError:
        pass


def _from_sklearn(estimator: Any, width: int, classifier: bool) -> Any:
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType

    _register_booster_converters()
    options = {"zipmap": False} if classifier else None
    # ai.onnx.ml 3: the version onnxmltools' booster converters write, and the one most runtimes read
    opsets = {"": skl2onnx.get_latest_tested_opset_version(), "ai.onnx.ml": 3}
    return skl2onnx.convert_sklearn(estimator, initial_types=[("input", FloatTensorType([None, width]))], options=options,
                                    target_opset=opsets)


def lightgbm_wrapper(package: Any) -> Any:
    """A fitted LightGBM scikit-learn wrapper around the package's booster, holding the package's classes.

    Converters (onnxmltools, sklearn2pmml) read class labels from the wrapper; a package loaded
    from disk holds only the booster. The wrapper's attributes are LightGBM's own, set as ``fit``
    sets them; the export check then proves the converted model right.
    """
    import lightgbm

    model = package.model
    if isinstance(model, (lightgbm.LGBMClassifier, lightgbm.LGBMRegressor)):
        return model
    classifier = package.task in ("binary", "multiclass")
    wrapper = lightgbm.LGBMClassifier() if classifier else lightgbm.LGBMRegressor()
    wrapper._Booster = model
    wrapper.fitted_ = True
    wrapper._n_features = wrapper._n_features_in = model.num_feature()
    wrapper._objective = model.params.get("objective") or ("binary" if package.task == "binary" else
                                                           "multiclass" if classifier else "regression")
    if classifier:
        from sklearn.preprocessing import LabelEncoder

        classes = np.asarray(package.classes)
        wrapper._classes, wrapper._n_classes = classes, len(classes)
        wrapper._le = LabelEncoder().fit(classes)
    return wrapper


def _from_lightgbm(package: Any, width: int, classifier: bool) -> Any:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    return onnxmltools.convert_lightgbm(lightgbm_wrapper(package), initial_types=[("input", FloatTensorType([None, width]))],
                                        zipmap=False, target_opset=BOOSTER_OPSET)


def _from_xgboost(package: Any, width: int, classifier: bool) -> Any:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = package.model
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    if classifier and not all(isinstance(value, int) for value in package.classes or []):
        raise ExportRefused(f"an XGBoost classifier with class labels {package.classes[:5]!r} cannot be exported: XGBoost's "
                            "converters label classes 0..k-1 and Tidal relabels only whole-number classes")
    plain = booster.copy()
    plain.feature_names = None  # the converter reads features by position (f0, f1 ...)
    plain.feature_types = None
    return onnxmltools.convert_xgboost(plain, initial_types=[("input", FloatTensorType([None, width]))],
                                       target_opset=BOOSTER_OPSET)


# -- shaping the graph -----------------------------------------------------------------------------


def _tensor_names(graph: Any) -> set[str]:
    names = {item.name for item in [*graph.input, *graph.output, *graph.initializer, *graph.value_info]}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
    return names


def _rename(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for item in [*graph.input, *graph.output, *graph.initializer, *graph.value_info]:
        if item.name == old:
            item.name = new


def _feed_by_column(graph: Any, features: list[str]) -> None:
    """Replace the single ``[N, k]`` input by one ``[N, 1]`` input per feature, concatenated in order."""
    from onnx import TensorProto, helper

    taken = _tensor_names(graph)
    for name in features:  # a feature named like a tensor of the graph (label, probabilities ...): move the tensor
        if name in taken:
            fresh = name
            while fresh in taken or fresh in features:
                fresh = f"{fresh}_"
            _rename(graph, name, fresh)
            taken = _tensor_names(graph)
    matrix = graph.input[0].name
    internal = "tidal_feature_matrix"
    while internal in taken or internal in features:
        internal += "_"
    _rename(graph, matrix, internal)
    del graph.input[:]
    graph.input.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1]) for name in features)
    graph.node.insert(0, helper.make_node("Concat", features, [internal], axis=1, name="tidal_features_by_column"))


def _free_batch_dimension(graph: Any) -> None:
    for output in graph.output:
        shape = output.type.tensor_type.shape
        if shape.dim:
            shape.dim[0].Clear()
            shape.dim[0].dim_param = "N"


def _set_class_labels(graph: Any, classes: list[Any], kind: str) -> None:
    """Make the classifier node's labels the package's classes (converters of boosters write 0..k-1)."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and len(attribute.ints) == len(classes):
                current = list(attribute.ints)
                if current == classes:
                    return
                if kind == "sklearn" or not all(isinstance(value, int) and not isinstance(value, bool) for value in classes):
                    return  # the check reports the mismatch
                attribute.ints[:] = [int(value) for value in classes]
                return


# -- scoring -----------------------------------------------------------------------------------------


def score(path: Path, package: Any, rows: pd.DataFrame) -> dict[str, Any]:
    """The graph's answers for ``rows``, fed one float32 column per input as ``tidal serve`` feeds it."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about declared shapes are not the check's business
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exceptions
        raise ExportRefused(f"onnxruntime cannot load the converted graph: {_first_line(error)}") from None
    feed = {item.name: rows[item.name].to_numpy(dtype=np.float64).astype(np.float32).reshape(-1, 1)
            for item in session.get_inputs()}
    outputs = session.run(None, feed)
    if package.task == "regression":
        return {"prediction": np.asarray(outputs[0]).ravel()}
    if len(outputs) < 2:
        raise ExportRefused("the converted classifier has no probability output")
    return {"prediction": np.asarray(outputs[0]).ravel(), "probabilities": np.asarray(outputs[1])}
