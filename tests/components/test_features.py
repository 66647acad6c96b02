"""Parity of the features family with scikit-learn and pandas, errors for bad input, and the
headline scenario: scale and encode the train split, apply both to the test split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets, decomposition, preprocessing
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import FeatureHasher
from sklearn.model_selection import StratifiedKFold, train_test_split

import tidal
from tidal.components import features_encoding as enc
from tidal.components import features_extract as ext
from tidal.components import features_projection as proj
from tidal.components import features_scaling as scale
from tidal.components.data import split
from tidal.components.features import apply
from tidal.components.io import read_csv
from tidal.core import DataError, TidalError
from tidal.models import ModelPackage


@pytest.fixture(scope="module")
def wine():
    frame = datasets.load_wine(as_frame=True).frame
    return train_test_split(frame, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def categories():
    """Wine with three measurements cut into named levels: a real table with text categories."""
    frame = datasets.load_wine(as_frame=True).frame
    table = pd.DataFrame({"alcohol": frame["alcohol"], "target": frame["target"]})
    for name in ("color_intensity", "hue", "proline"):
        table[name] = pd.qcut(frame[name], 4, labels=["low", "mid", "high", "top"]).astype(str)
    table.loc[[3, 10], "hue"] = None
    return train_test_split(table, test_size=0.3, random_state=0)


def roundtrip(model: ModelPackage, tmp_path) -> ModelPackage:
    return ModelPackage.load(model.save_archive(tmp_path / "model.zip"))


SCALERS = [
    (scale.standard_scaler, {}, preprocessing.StandardScaler()),
    (scale.min_max_scaler, {"low": -1.0, "high": 2.0}, preprocessing.MinMaxScaler(feature_range=(-1, 2))),
    (scale.robust_scaler, {"quantile_low": 10.0, "quantile_high": 90.0}, preprocessing.RobustScaler(quantile_range=(10, 90))),
    (scale.max_abs_scaler, {}, preprocessing.MaxAbsScaler()),
    (scale.normalizer, {"norm": "l1"}, preprocessing.Normalizer(norm="l1")),
    (scale.power_transform, {}, preprocessing.PowerTransformer()),
    (scale.quantile_transform, {"n_quantiles": 50, "output_distribution": "normal"}, preprocessing.QuantileTransformer(n_quantiles=50, output_distribution="normal", random_state=0)),
]


@pytest.mark.parametrize(("step", "params", "reference"), SCALERS, ids=lambda item: getattr(item, "id", None))
def test_scalers_match_scikit_learn_on_train_and_test(wine, tmp_path, step, params, reference):
    train, test = wine
    columns = [name for name in train.columns if name != "target"]
    fitted = step(train, columns=columns, **params)
    expected_train = reference.fit_transform(train[columns])
    np.testing.assert_allclose(fitted.data[columns].to_numpy(), expected_train, atol=1e-10)
    assert fitted.data["target"].tolist() == train["target"].tolist()
    applied = apply(roundtrip(fitted.transform, tmp_path), test)
    np.testing.assert_allclose(applied[columns].to_numpy(), reference.transform(test[columns]), atol=1e-10)


def test_scaler_defaults_to_numeric_columns_and_passes_others_through():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "n": [1, 2, 4], "flag": [True, False, True], "name": ["a", "b", "c"]})
    fitted = scale.standard_scaler(frame)
    assert fitted.transform.features == ["x", "n"]
    assert fitted.data["name"].tolist() == ["a", "b", "c"] and fitted.data["flag"].tolist() == [True, False, True]
    assert fitted.data["x"].tolist() == pytest.approx([-1.2247449, 0.0, 1.2247449])


def test_scaler_errors_name_the_problem():
    frame = pd.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]})
    with pytest.raises(DataError, match="'name' .* not numeric"):
        scale.standard_scaler(frame, columns=["x", "name"])
    with pytest.raises(DataError, match="'nope' not found"):
        scale.standard_scaler(frame, columns=["nope"])
    with pytest.raises(DataError, match="0 row"):
        scale.standard_scaler(frame.iloc[0:0])
    with pytest.raises(DataError, match="column 'x' has 1 missing value.*row 1"):
        scale.normalizer(pd.DataFrame({"x": [1.0, None]}))
    with pytest.raises(DataError, match="box-cox.*'x'.*row 0"):
        scale.power_transform(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), method="box-cox")
    fitted = scale.standard_scaler(frame)
    with pytest.raises(DataError, match="needs column.*'x'"):
        apply(fitted.transform, pd.DataFrame({"y": [1.0]}))


def test_one_hot_matches_scikit_learn_and_ignores_unseen_categories(categories, tmp_path):
    train, test = categories
    columns = ["color_intensity", "hue", "proline"]
    fitted = enc.one_hot(train)
    assert fitted.transform.features == columns
    reference = preprocessing.OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(train[columns])
    names = list(reference.get_feature_names_out())
    assert fitted.data.columns.tolist() == ["alcohol", "target", *names]
    np.testing.assert_array_equal(fitted.data[names].to_numpy(), reference.transform(train[columns]))
    unseen = test.head(3).assign(proline="unheard-of")
    applied = apply(roundtrip(fitted.transform, tmp_path), unseen)
    assert applied.filter(like="proline_").to_numpy().sum() == 0
    np.testing.assert_array_equal(applied[names].to_numpy(), reference.transform(unseen[columns]))


def test_one_hot_drop_first_and_strict_unknowns(categories):
    train, test = categories
    fitted = enc.one_hot(train, columns=["proline"], drop="first", unknown="error")
    reference = preprocessing.OneHotEncoder(drop="first", sparse_output=False).fit(train[["proline"]])
    assert fitted.data.columns.tolist()[-3:] == list(reference.get_feature_names_out())
    with pytest.raises(DataError, match="cannot apply the features.one_hot transform"):
        apply(fitted.transform, test.head(2).assign(proline="never seen"))


def test_ordinal_encoder_matches_scikit_learn(categories):
    train, test = categories
    fitted = enc.ordinal_encoder(train, columns=["hue", "proline"], unknown_value=-5)
    reference = preprocessing.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-5).fit(train[["hue", "proline"]])
    np.testing.assert_array_equal(fitted.data[["hue", "proline"]].to_numpy(), reference.transform(train[["hue", "proline"]]))
    probe = test.head(2).assign(proline="new")
    assert apply(fitted.transform, probe)["proline"].tolist() == [-5.0, -5.0]


def test_frequency_encoder_matches_pandas_value_counts(categories, tmp_path):
    train, test = categories
    fitted = enc.frequency_encoder(train, columns=["hue", "proline"])
    shares = train["proline"].value_counts(normalize=True)
    assert fitted.data["proline"].tolist() == pytest.approx(train["proline"].map(shares).tolist())
    missing_share = train["hue"].isna().mean()
    assert fitted.data.loc[train["hue"].isna().to_numpy(), "hue"].tolist() == pytest.approx([missing_share] * int(train["hue"].isna().sum()))
    counts = enc.frequency_encoder(train, columns=["proline"], normalize=False)
    assert counts.data["proline"].tolist() == train["proline"].map(train["proline"].value_counts()).astype(float).tolist()
    applied = apply(roundtrip(fitted.transform, tmp_path), test.head(3).assign(proline="new"))
    assert applied["proline"].tolist() == [0.0, 0.0, 0.0]


def test_target_encoder_matches_scikit_learn_cross_fitting(categories, tmp_path):
    train, test = categories
    columns = ["color_intensity", "proline"]
    fitted = enc.target_encoder(train, label="target", columns=columns, seed=3)
    reference = preprocessing.TargetEncoder(target_type="multiclass", cv=StratifiedKFold(5, shuffle=True, random_state=3))
    crossed = reference.fit_transform(train[columns], train["target"])
    names = list(reference.get_feature_names_out())
    np.testing.assert_allclose(fitted.data[names].to_numpy(), crossed)
    applied = apply(roundtrip(fitted.transform, tmp_path), test)
    np.testing.assert_allclose(applied[names].to_numpy(), reference.transform(test[columns]))
    assert "target" in applied.columns


def test_target_encoder_regression_and_label_errors():
    frame = datasets.load_diabetes(as_frame=True).frame
    frame["sex"] = np.where(frame["sex"] > 0, "m", "f")
    fitted = enc.target_encoder(frame, label="target", columns=["sex"], folds=3)
    assert fitted.transform.params["target_type"] == "continuous"
    with pytest.raises(DataError, match="label column 'target' is also listed"):
        enc.target_encoder(frame, label="target", columns=["sex", "target"])
    with pytest.raises(DataError, match="label column 'target' has 1 missing"):
        enc.target_encoder(frame.assign(target=frame["target"].where(frame.index != 5)), label="target", columns=["sex"])


def test_hashing_matches_feature_hasher(categories, tmp_path):
    train, _ = categories
    columns = ["hue", "proline"]
    fitted = enc.hashing(train, columns=columns, n_features=8, alternate_sign=True)
    tokens = [[f"{name}={value}" for name, value in zip(columns, row, strict=True) if isinstance(value, str)] for row in train[columns].itertuples(index=False)]
    expected = FeatureHasher(n_features=8, input_type="string", alternate_sign=True).transform(tokens).toarray()
    np.testing.assert_array_equal(fitted.data[[f"hash_{i}" for i in range(8)]].to_numpy(), expected)
    np.testing.assert_array_equal(apply(roundtrip(fitted.transform, tmp_path), train).filter(like="hash_").to_numpy(), expected)


@pytest.mark.parametrize("strategy", ["quantile", "uniform", "kmeans"])
def test_binning_matches_kbins_discretizer(wine, strategy):
    train, test = wine
    columns = ["alcohol", "magnesium", "proline"]
    fitted = enc.binning(train, columns=columns, bins=4, strategy=strategy)
    reference = preprocessing.KBinsDiscretizer(n_bins=4, encode="ordinal", strategy=strategy, quantile_method="averaged_inverted_cdf", random_state=0)
    np.testing.assert_array_equal(fitted.data[columns].to_numpy(), reference.fit_transform(train[columns]))
    np.testing.assert_array_equal(apply(fitted.transform, test)[columns].to_numpy(), reference.transform(test[columns]))
    assert fitted.transform.metadata["bin_edges"]["alcohol"] == pytest.approx(list(reference.bin_edges_[0]))


def test_pca_matches_scikit_learn(wine, tmp_path):
    train, test = wine
    columns = [name for name in train.columns if name != "target"]
    fitted = proj.pca(train, columns=columns, components=3)
    reference = decomposition.PCA(n_components=3, svd_solver="full").fit(train[columns])
    np.testing.assert_allclose(fitted.data[["pc1", "pc2", "pc3"]].to_numpy(), reference.transform(train[columns]), atol=1e-8)
    np.testing.assert_allclose(apply(roundtrip(fitted.transform, tmp_path), test)[["pc1", "pc2", "pc3"]].to_numpy(), reference.transform(test[columns]), atol=1e-8)
    assert fitted.transform.metadata["explained_variance_ratio"] == pytest.approx(list(reference.explained_variance_ratio_))
    with pytest.raises(DataError, match="'components' is 20"):
        proj.pca(train, columns=columns, components=20)


def test_truncated_svd_matches_scikit_learn():
    frame = datasets.load_digits(as_frame=True).frame.drop(columns="target")
    fitted = proj.truncated_svd(frame, components=5, seed=1)
    reference = decomposition.TruncatedSVD(n_components=5, random_state=1).fit(frame)
    np.testing.assert_allclose(fitted.data.to_numpy(), reference.transform(frame), atol=1e-8)


@pytest.mark.parametrize(("step", "degree", "interaction_only"), [(proj.polynomial, 3, False), (proj.interaction, 2, True)])
def test_polynomial_and_interaction_match_polynomial_features(step, degree, interaction_only):
    frame = datasets.load_diabetes(as_frame=True).frame[["age", "bmi", "bp"]]
    fitted = step(frame, degree=degree)
    reference = preprocessing.PolynomialFeatures(degree=degree, interaction_only=interaction_only, include_bias=False).fit(frame)
    assert fitted.data.columns.tolist() == [name.replace(" ", "*") for name in reference.get_feature_names_out()]
    np.testing.assert_allclose(fitted.data.to_numpy(), reference.transform(frame))


def test_date_parts_match_pandas_accessors():
    when = pd.Series(pd.date_range("2023-12-25 06:30", periods=40, freq="37h"))
    frame = pd.DataFrame({"when": when, "text_date": when.dt.strftime("%Y-%m-%d %H:%M")})
    result = ext.date_parts(frame, columns=["when", "text_date"], parts=["year", "quarter", "weekday", "week", "hour", "is_weekend", "is_month_end"])
    assert result["when_year"].tolist() == when.dt.year.tolist()
    assert result["when_weekday"].tolist() == when.dt.day_of_week.tolist()
    assert result["when_week"].tolist() == when.dt.isocalendar().week.astype(int).tolist()
    assert result["when_is_month_end"].tolist() == when.dt.is_month_end.astype(int).tolist()
    assert result["text_date_hour"].tolist() == when.dt.hour.tolist()
    with_gap = ext.date_parts(pd.DataFrame({"when": [when[0], pd.NaT]}), parts=["month"])
    assert with_gap["when_month"].tolist()[0] == 12 and np.isnan(with_gap["when_month"].tolist()[1])


def test_date_parts_errors():
    with pytest.raises(DataError, match="not a date at row 1: 'soon'"):
        ext.date_parts(pd.DataFrame({"when": ["2024-01-01", "soon"]}), columns=["when"])
    with pytest.raises(DataError, match="no date columns"):
        ext.date_parts(pd.DataFrame({"x": [1]}))


def test_text_features_match_pandas_string_methods():
    text = pd.Series(["Hello World 42!", "  spaced   out ", "ÉCOLE d'été", None, "a.b,c"])
    frame = pd.DataFrame({"note": text})
    lengths = ext.text_length(frame)
    assert lengths["note_length"].tolist() == text.fillna("").str.len().tolist()
    assert lengths["note_words"].tolist() == [len(value.split()) for value in text.fillna("")]
    counts = ext.character_counts(frame, kinds=["digits", "upper", "punctuation", "letters", "non_ascii"])
    values = text.fillna("")
    assert counts["note_digits"].tolist() == [sum(ch.isdigit() for ch in value) for value in values]
    assert counts["note_upper"].tolist() == [sum("A" <= ch <= "Z" for ch in value) for value in values]
    assert counts["note_letters"].tolist() == [sum(ch.isalpha() for ch in value) for value in values]
    assert counts["note_non_ascii"].tolist() == [sum(ord(ch) > 127 for ch in value) for value in values]
    flags = ext.string_contains(frame, text_column="note", pattern="o", case=False, output="has_o")
    assert flags["has_o"].tolist() == text.str.contains("o", case=False).fillna(False).astype(int).tolist()
    with pytest.raises(TidalError, match="not a valid regular expression"):
        ext.string_contains(frame, text_column="note", pattern="(", regex=True)
    with pytest.raises(DataError, match="'x' .* is not text"):
        ext.text_length(pd.DataFrame({"x": [1, 2]}), columns=["x"])


def test_apply_with_a_predictive_model_scores_like_model_predict():
    from tidal.components.classification import logistic_regression
    from tidal.components.model import predict

    frame = datasets.load_iris(as_frame=True).frame
    model = logistic_regression(frame, label="target")
    pd.testing.assert_frame_equal(apply(model, frame), predict(model, frame))


def test_headline_pipeline_matches_scikit_learn_column_transformer(tmp_path):
    frame = datasets.load_wine(as_frame=True).frame
    frame["color"] = pd.qcut(frame["color_intensity"], 3, labels=["pale", "medium", "deep"]).astype(str)
    frame["hue_level"] = pd.qcut(frame["hue"], 2, labels=["low", "high"]).astype(str)
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    numeric = ["alcohol", "malic_acid", "ash", "magnesium", "proline"]
    with tidal.Pipeline("scale-and-encode") as pipeline:
        read = read_csv(path=str(path), _id="read")
        parts = split(read, fraction=0.7, seed=5, _id="split")
        scaled = scale.standard_scaler(parts.train, columns=numeric, _id="scale")
        encoded = enc.one_hot(scaled.data, columns=["color", "hue_level"], _id="encode")
        test_scaled = apply(scaled.transform, parts.test, _id="apply_scale")
        apply(encoded.transform, test_scaled, _id="apply_encode")
    result = tidal.run(pipeline, workspace=tmp_path / "ws", workers=0)
    assert result.ok, result.run.error
    train = result.output("split", "train").to_pandas()
    test = result.output("split", "test").to_pandas()
    reference = ColumnTransformer(
        [("scale", preprocessing.StandardScaler(), numeric), ("encode", preprocessing.OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["color", "hue_level"])],
        verbose_feature_names_out=False,
    ).fit(train)
    names = list(reference.get_feature_names_out())
    expected = pd.DataFrame(reference.transform(test), columns=names)
    tidal_test = result.output("apply_encode").to_pandas()
    np.testing.assert_allclose(tidal_test[names].to_numpy(), expected.to_numpy(), atol=1e-10)
    untouched = [name for name in frame.columns if name not in numeric + ["color", "hue_level"]]
    pd.testing.assert_frame_equal(tidal_test[untouched], test[untouched])
    tidal_train = result.output("encode", "data").to_pandas()
    np.testing.assert_allclose(tidal_train[names].to_numpy(), reference.transform(train), atol=1e-10)
    assert result.output("scale", "transform").task == "transform"
