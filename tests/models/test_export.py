"""Exports to ONNX and PMML reproduce the model: by onnxruntime, by JPMML-Evaluator, and served back by Tidal.

Three models trained by Tidal's components on small subsets (logistic regression on iris with
text labels and feature names with spaces, a random forest on breast cancer, LightGBM on iris)
are exported once per module in both formats, then scored on held-out rows by the reference
runtimes (onnxruntime fed directly, JPMML-Evaluator) and by the processor ``tidal serve FILE``
wraps a bare file in; every answer must match the model's own. Refusals (an estimator no
converter knows, a clustering model, an export that disagrees, a missing library or Java) write
nothing and say why.
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from pmml_reference import jpmml_results

from tidal.models import ExportRefused, ModelPackage, export_model, load_model

FORMATS = ("onnx", "pmml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, tuple[ModelPackage, pd.DataFrame]]:
    """name -> (the model as loaded from its package archive, held-out rows it was not trained on)."""
    from sklearn.datasets import load_breast_cancer, load_iris

    from tidal.components.classification import lightgbm, logistic_regression, random_forest

    iris = load_iris(as_frame=True)
    flowers = iris.frame.assign(species=np.asarray(iris.target_names)[iris.frame["target"]]).drop(columns="target")
    cancer = load_breast_cancer(as_frame=True).frame.iloc[::3, [0, 1, 2, 3, 4, 5, 30]]
    cancer.columns = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "target"]
    models = {
        "logistic": (logistic_regression(flowers.iloc[::2], label="species"), flowers.iloc[1::2]),
        "forest": (random_forest(cancer.iloc[::2], label="target", n_estimators=8, max_depth=4), cancer.iloc[1::2]),
        "lightgbm": (lightgbm(flowers.iloc[::2], label="species", n_estimators=8, num_leaves=6, min_child_samples=5),
                     flowers.iloc[1::2]),
    }
    folder = tmp_path_factory.mktemp("packages")
    return {name: (load_model(model.save_archive(folder / f"{name}.zip")), rows) for name, (model, rows) in models.items()}


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """(model, format) -> the exported file: ONNX checked on generated rows, PMML on the held-out rows."""
    folder = tmp_path_factory.mktemp("exports")
    files = {}
    for name, (model, rows) in trained.items():
        for format in FORMATS:
            report = export_model(model, folder / f"{name}.{format}", format=format,
                                  data=rows if format == "pmml" else None, source=f"models:/{name}/1")
            assert report.rows_source == ("given" if format == "pmml" else "generated")
            assert report.max_difference <= report.tolerance
            files[(name, format)] = report.path
    return files


def _features(model: ModelPackage, rows: pd.DataFrame) -> pd.DataFrame:
    return rows[model.features]


@pytest.mark.parametrize("name", ["logistic", "forest", "lightgbm"])
def test_onnx_export_scored_by_onnxruntime_matches_the_model(name, trained, exported):
    import onnxruntime

    model, rows = trained[name]
    session = onnxruntime.InferenceSession(str(exported[(name, "onnx")]), providers=["CPUExecutionProvider"])
    assert [item.name for item in session.get_inputs()] == model.features  # one named input per column
    feed = {column: rows[[column]].to_numpy(np.float32) for column in model.features}
    labels, probabilities = session.run(None, feed)
    np.testing.assert_allclose(probabilities, model.predict_proba(rows), rtol=0, atol=1e-5)
    assert [str(value) for value in labels] == [str(value) for value in model.predict(rows)]


@pytest.mark.parametrize("name", ["logistic", "forest", "lightgbm"])
def test_pmml_export_scored_by_jpmml_matches_the_model(name, trained, exported):
    model, rows = trained[name]
    theirs = jpmml_results(exported[(name, "pmml")], _features(model, rows))
    ours = model.predict_proba(rows)
    for index, value in enumerate(model.classes or []):
        np.testing.assert_allclose(theirs[f"probability({value})"], ours[:, index], rtol=0, atol=1e-9)
    assert [str(value) for value in theirs[model.label]] == [str(value) for value in model.predict(rows)]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("name", ["logistic", "forest", "lightgbm"])
def test_tidal_serves_the_bare_exported_file_with_the_models_answers(name, format, trained, exported):
    from tidal.serving import load_processor

    model, rows = trained[name]
    processor = load_processor(exported[(name, format)])  # what `tidal serve FILE.onnx|FILE.pmml` loads
    assert processor.package.features == model.features
    assert [str(value) for value in processor.package.classes] == [str(value) for value in model.classes]
    columns = {column: rows[column].to_numpy() for column in model.features}
    answer = processor.predict(columns, len(rows))
    atol = 1e-5 if format == "onnx" else 1e-9
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(rows), rtol=0, atol=atol)
    assert [str(value) for value in answer["prediction"]] == [str(value) for value in model.predict(rows)]


def test_the_onnx_file_names_its_source_and_frees_the_batch_size(exported):
    import onnx

    graph = onnx.load(str(exported[("forest", "onnx")]))
    assert {item.key: item.value for item in graph.metadata_props}["tidal.source"] == "models:/forest/1"
    assert all(output.type.tensor_type.shape.dim[0].dim_param == "N" for output in graph.graph.output)


def test_a_scikit_learn_pipeline_holding_a_booster_exports_through_the_registered_converters(small, tmp_path):
    import lightgbm
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tidal.serving import load_processor

    pipeline = make_pipeline(StandardScaler(), lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1))
    model = _package(pipeline.fit(small[["a", "b", "c"]], small["label"]), small, "binary")
    report = export_model(model, tmp_path / "pipeline.onnx", format="onnx", data=small)
    assert report.converter.startswith("skl2onnx") and report.max_difference <= 1e-5
    served = load_processor(report.path).predict({name: small[name].to_numpy() for name in "abc"}, len(small))
    np.testing.assert_allclose(served["probabilities"], model.predict_proba(small), rtol=0, atol=1e-5)


def test_the_cli_exports_a_registered_version_checked_on_a_data_file(trained, tmp_path, capsys):
    import json

    from tidal.cli import main
    from tidal.models import ModelRegistry
    from tidal.store import Workspace

    model, rows = trained["forest"]
    workspace = Workspace.open(tmp_path)
    ModelRegistry(workspace).register(model, "cancer", alias="production")
    workspace.close()
    rows.to_parquet(tmp_path / "holdout.parquet")
    target = tmp_path / "out" / "cancer.onnx"
    target.parent.mkdir()
    arguments = ["tidal", "--home", str(tmp_path), "models", "export", "models:/cancer@production", "--to", "onnx",
                 "-o", str(target), "--data", str(tmp_path / "holdout.parquet"), "--json"]
    with mock.patch.object(sys, "argv", arguments), pytest.raises(SystemExit) as stop:
        main()
    out, err = capsys.readouterr()
    assert stop.value.code == 0, err
    report = json.loads(out)
    assert report["model_uri"] == "models:/cancer/1" and report["path"] == str(target)
    assert (report["rows"], report["rows_source"], report["format"]) == (len(rows), "given", "onnx")
    assert report["max_difference"] <= report["tolerance"] == 1e-5 and target.stat().st_size > 100


# -- refusals -------------------------------------------------------------------------------------


def _package(estimator, frame: pd.DataFrame, task: str) -> ModelPackage:
    features = [name for name in frame.columns if name != "label"]
    return ModelPackage.from_estimator(estimator, frame, features=features, task=task, label="label")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] + frame["b"] > 0).astype(int)
    return frame


def test_an_estimator_no_converter_knows_is_refused_naming_it(small, tmp_path):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.neighbors import NearestCentroid

    calibrated = CalibratedClassifierCV(NearestCentroid(), cv=3).fit(small[["a", "b", "c"]], small["label"])
    with pytest.raises(ExportRefused, match="cannot convert this CalibratedClassifierCV.*NearestCentroid"):
        export_model(_package(calibrated, small, "binary"), tmp_path / "m.onnx", format="onnx")
    assert not list(tmp_path.iterdir())


def test_a_model_that_is_not_a_library_estimator_is_refused(small, tmp_path):
    from tidal.components.clustering import kmeans

    with pytest.raises(ExportRefused, match="a clustering model cannot be exported; export takes classifiers and regressors"):
        export_model(kmeans(small.drop(columns="label"), n_clusters=2).model, tmp_path / "m.pmml", format="pmml")
    assert not list(tmp_path.iterdir())


def test_rows_where_the_export_disagrees_refuse_it_and_write_nothing(trained, tmp_path):
    """LightGBM compares in float64, the ONNX graph in float32: a value between a split point and its float32
    rounding takes one branch in LightGBM and the other in the graph."""
    model, rows = trained["lightgbm"]
    booster = model.model
    trees = booster.trees_to_dataframe().dropna(subset=["split_feature"])
    names = booster.feature_name()
    probes = []
    base = _features(model, rows).median()
    for feature, threshold in zip(trees["split_feature"], trees["threshold"], strict=True):
        rounded = float(np.float32(threshold))
        if rounded > threshold:
            row = base.copy()
            row.iloc[names.index(feature)] = threshold + (rounded - threshold) / 2
            probes.append(row)
    assert probes
    target = tmp_path / "lightgbm.onnx"
    with pytest.raises(ExportRefused, match=r"the ONNX export disagrees with the model on \d+ of \d+ rows checked; "
                                            r"first row \d+ \(.*\): probability of class '\w+' is"):
        export_model(model, target, format="onnx", data=pd.DataFrame(probes))
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_missing_converter_names_the_extra_and_missing_java_says_so(trained, tmp_path):
    model, _ = trained["logistic"]
    with mock.patch.dict(sys.modules, {"skl2onnx": None}):
        with pytest.raises(ExportRefused, match=r"needs skl2onnx \(not installed\); install the export extra: "
                                                r"pip install 'tidal-ml\[export\]'"):
            export_model(model, tmp_path / "m.onnx", format="onnx")
    with mock.patch("shutil.which", return_value=None):
        with pytest.raises(ExportRefused, match="needs Java .* on PATH; install a Java runtime .*or export to ONNX"):
            export_model(model, tmp_path / "m.pmml", format="pmml")
    assert not list(tmp_path.iterdir())


def test_check_rows_must_hold_the_models_columns(trained, tmp_path):
    from tidal.core import DataError

    model, rows = trained["forest"]
    with pytest.raises(DataError, match="the model needs column"):
        export_model(model, tmp_path / "m.onnx", format="onnx", data=rows.drop(columns=["area"]))
    with pytest.raises(DataError, match="no rows"):
        export_model(model, tmp_path / "m.onnx", format="onnx", data=rows.iloc[:0])
