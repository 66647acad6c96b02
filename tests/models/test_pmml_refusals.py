"""What Tidal's PMML evaluator cannot evaluate is refused at load, naming it; nothing is half-served."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tidal.models._pmml import PmmlInvalid, PmmlModel, PmmlUnsupported

DICTIONARY = """<?xml version="1.0"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
<DataDictionary>
  <DataField name="x" optype="continuous" dataType="double"/>
  <DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>
  <DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
{transformations}{model}
</PMML>"""
SCHEMA = '<MiningSchema><MiningField name="y" usageType="target"/><MiningField name="x"/><MiningField name="c"/></MiningSchema>'
TREE = ('<TreeModel functionName="regression" {attributes}>' + SCHEMA
        + '<Node score="1"><True/>{inner}<Node score="2"><SimplePredicate field="x" operator="lessThan" value="0"/></Node>'
        "</Node></TreeModel>")
REGRESSION = ('<RegressionModel functionName="regression">' + SCHEMA + "{output}"
              '<RegressionTable intercept="1"><NumericPredictor name="{field}" coefficient="2"/></RegressionTable>'
              "</RegressionModel>")


def document(model: str, transformations: str = "") -> bytes:
    return DICTIONARY.format(transformations=transformations, model=model).encode()


def derived(expression: str) -> str:
    return (f'<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double">{expression}'
            "</DerivedField></TransformationDictionary>")


REFUSED = {
    "an unknown model": (document('<GeneralRegressionModel functionName="regression">' + SCHEMA
                                  + "</GeneralRegressionModel>"), "<GeneralRegressionModel>"),
    "weightedConfidence": (document(TREE.format(attributes='missingValueStrategy="weightedConfidence"', inner="")),
                           'missingValueStrategy="weightedConfidence"'),
    "aggregateNodes": (document(TREE.format(attributes='missingValueStrategy="aggregateNodes"', inner="")),
                       'missingValueStrategy="aggregateNodes"'),
    "an element inside a node": (document(TREE.format(attributes="", inner="<Partition name='p'/>")), "<Partition>"),
    "an unknown attribute": (document(TREE.format(attributes='x-unknownSetting="1"', inner="")),
                             'x-unknownSetting="1"'),
    "an unknown function": (document(REGRESSION.format(output="", field="d"),
                                     derived('<Apply function="formatDatetime"><FieldRef field="x"/>'
                                             "<Constant>%Y</Constant></Apply>")), "formatDatetime"),
    "a Lag expression": (document(REGRESSION.format(output="", field="d"), derived('<Lag field="x"/>')), "<Lag>"),
    "a reason-code output": (document(REGRESSION.format(
        output='<Output><OutputField name="why" feature="reasonCode"/></Output>', field="x")), 'feature="reasonCode"'),
    "a probability from a regression": (document(REGRESSION.format(
        output='<Output><OutputField name="p" feature="probability" value="a"/></Output>', field="x")), "probability"),
    "an unknown normalisation": (document(REGRESSION.format(output="", field="x").replace(
        'functionName="regression"', 'functionName="regression" normalizationMethod="tanh"')),
        'normalizationMethod="tanh"'),
    "a radial-basis network": (document(
        '<NeuralNetwork functionName="regression" activationFunction="radialBasis">' + SCHEMA
        + '<NeuralInputs><NeuralInput id="i"><DerivedField optype="continuous" dataType="double"><FieldRef field="x"/>'
        '</DerivedField></NeuralInput></NeuralInputs><NeuralLayer><Neuron id="n" bias="0"><Con from="i" weight="1"/>'
        '</Neuron></NeuralLayer><NeuralOutputs><NeuralOutput outputNeuron="n"><DerivedField optype="continuous" '
        'dataType="double"><FieldRef field="y"/></DerivedField></NeuralOutput></NeuralOutputs></NeuralNetwork>'),
        'activationFunction="radialBasis"'),
    "a segmentation's local transformations": (document(
        '<MiningModel functionName="regression">' + SCHEMA + '<Segmentation multipleModelMethod="sum">'
        '<LocalTransformations/><Segment><True/>' + REGRESSION.format(output="", field="x") + "</Segment>"
        "</Segmentation></MiningModel>"), "<LocalTransformations>"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_evaluator_cannot_evaluate_is_refused_at_load_naming_it(case):
    data, named = REFUSED[case]
    with pytest.raises(PmmlUnsupported) as refused:
        PmmlModel(data)
    assert named in str(refused.value)
    assert "not supported" in str(refused.value)


def test_ordering_a_categorical_field_is_refused_at_load():
    model = TREE.format(attributes="", inner="").replace(
        '<SimplePredicate field="x" operator="lessThan" value="0"/>', '<SimplePredicate field="c" operator="lessThan" value="b"/>')
    with pytest.raises(PmmlInvalid, match="categorical field 'c'"):
        PmmlModel(document(model))


def test_a_package_is_never_made_from_a_document_that_would_fail(tmp_path):
    from tidal.serving import pmml_package

    path = tmp_path / "weighted.pmml"
    path.write_bytes(REFUSED["weightedConfidence"][0])
    with pytest.raises(PmmlUnsupported, match="weightedConfidence"):
        pmml_package(path)


def test_extra_columns_are_ignored_and_missing_ones_named():
    model = PmmlModel(document(REGRESSION.format(output="", field="x")))
    assert model.features == ["x", "c"]
    rows = pd.DataFrame({"x": [1.0, np.nan], "c": ["a", "b"], "y": [0.0, 0.0], "unrelated": ["?", "?"]})
    predictions = model.predict(rows)
    assert predictions[0] == 3.0 and np.isnan(predictions[1])  # a missing numeric input: no prediction
    with pytest.raises(Exception, match="'c'"):
        model.predict(rows.drop(columns="c"))


def test_a_value_outside_the_valid_values_is_refused_naming_column_and_row():
    model = PmmlModel(document(REGRESSION.format(output="", field="x")))
    with pytest.raises(Exception, match=r"column 'c'.*row 1: 'z'"):
        model.predict(pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "z"]}))
