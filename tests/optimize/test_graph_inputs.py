"""The search's float32 graph takes one feature matrix in place of one input per column, where that is safe."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
from onnx import TensorProto, helper

from tidal.optimize._onnx_files import merge_column_inputs
from tidal.serving._onnx import onnx_package

FEATURES = ["a", "b", "c"]


def column_graph(*, axis: int = 1, extra_user: bool = False, extra_input: bool = False, order=FEATURES,
                 elem=TensorProto.FLOAT, width: int = 1):
    """``[N, 1]`` inputs a, b, c -> Concat -> MatMul by a 3x1 weight -> ``out``; the variations break one condition."""
    inputs = [helper.make_tensor_value_info(name, elem, ["N", width]) for name in FEATURES]
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, 1], [1.0, 2.0, 4.0])
    initializers = [weight]
    concat_inputs = list(order)
    if extra_input:
        initializers.append(helper.make_tensor("pad", TensorProto.FLOAT, [1, 1], [0.0]))
        concat_inputs.append("pad")
    nodes = [helper.make_node("Concat", concat_inputs, ["joined"], axis=axis, name="join"),
             helper.make_node("MatMul", ["joined", "w"], ["product"], name="product")]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 1])]
    if extra_user:
        nodes.append(helper.make_node("Neg", ["a"], ["negated"], name="negate"))
        outputs.append(helper.make_tensor_value_info("negated", TensorProto.FLOAT, ["N", 1]))
    nodes.append(helper.make_node("Identity", ["product"], ["out"], name="out"))
    graph = helper.make_graph(nodes, "columns", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model, feeds):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["out"], feeds)[0]


def test_the_column_inputs_become_one_matrix_with_the_same_answers():
    model = column_graph()
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    before = run(model, {name: rows[:, [index]] for index, name in enumerate(FEATURES)})
    name = merge_column_inputs(model, FEATURES)
    onnx.checker.check_model(model, full_check=True)
    assert name == "tidal_features" and [item.name for item in model.graph.input] == [name]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 3
    np.testing.assert_array_equal(run(model, {name: rows}), before)


def test_the_matrix_input_takes_a_name_no_feature_has():
    model = column_graph()
    assert merge_column_inputs(model, ["a", "b", "c"]) == "tidal_features"
    clashing = column_graph()
    clashing.graph.node[1].output[0] = "tidal_features"  # a tensor inside the graph has the name already
    clashing.graph.node[-1].input[0] = "tidal_features"
    assert merge_column_inputs(clashing, FEATURES) == "tidal_features_"


@pytest.mark.parametrize("variation", [
    {"axis": 0}, {"extra_user": True}, {"extra_input": True}, {"order": ["b", "a", "c"]},
    {"elem": TensorProto.DOUBLE}, {"width": 2},
], ids=["rows-not-columns", "an-input-used-twice", "a-constant-joined-in", "another-order", "float64", "two-wide"])
def test_a_graph_of_another_shape_is_left_as_it_is(variation):
    model = column_graph(**variation)
    before = model.SerializeToString()
    assert merge_column_inputs(model, FEATURES) is None
    assert model.SerializeToString() == before


def test_a_signature_that_names_the_inputs_otherwise_leaves_the_graph_alone():
    model = column_graph()
    before = model.SerializeToString()
    assert merge_column_inputs(model, ["a", "b"]) is None and merge_column_inputs(model, ["c", "b", "a"]) is None
    assert model.SerializeToString() == before


def test_the_onnx_flavor_feeds_the_matrix_from_the_columns_and_names_a_column_it_cannot_read(tmp_path):
    columns, merged = column_graph(), column_graph()
    merge_column_inputs(merged, FEATURES)
    onnx.save(columns, str(tmp_path / "columns.onnx"))
    onnx.save(merged, str(tmp_path / "merged.onnx"))
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0, 3], "c": [0.5, -1.0]})
    answers = [onnx_package(tmp_path / f"{name}.onnx", features=FEATURES, task="regression").predict(frame)
               for name in ("columns", "merged")]
    np.testing.assert_array_equal(answers[0], [3.0, 4.0])
    np.testing.assert_array_equal(answers[1], answers[0])
    reordered = frame[["c", "a", "b"]]  # columns in another order are picked by name
    np.testing.assert_array_equal(onnx_package(tmp_path / "merged.onnx", features=FEATURES, task="regression")
                                  .predict(reordered), answers[0])
    texts = frame.assign(b=["0", "three"])
    with pytest.raises(ValueError, match="column 'b' cannot be read as float32"):
        onnx_package(tmp_path / "merged.onnx", features=FEATURES, task="regression").predict(texts)
