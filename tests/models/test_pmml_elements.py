"""Hand-written PMML documents, one element or attribute value at a time, scored by Tidal and JPMML.

sklearn2pmml only writes some of what PMML allows; these documents exercise the rest: every
multipleModelMethod and missingPredictionTreatment, every tree missingValueStrategy and
noTrueChildStrategy JPMML implements, every predicate, every regression normalisation (binary,
multiclass, ordinal, regression), Targets, the transformation expressions and built-in functions,
mining-field treatments, integer/string/boolean fields and float arithmetic. Each is compared with
JPMML-Evaluator row by row (nulls exactly, numbers to 1e-9).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pmml_reference import assert_matches_jpmml, require_jpmml

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
<Header description="hand-written for Tidal's reference tests"/>
<DataDictionary>
  <DataField name="x1" optype="continuous" dataType="double"/>
  <DataField name="x2" optype="continuous" dataType="float"/>
  <DataField name="n" optype="continuous" dataType="integer"/>
  <DataField name="s" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
  <DataField name="y" optype="continuous" dataType="double"/>
  <DataField name="yi" optype="continuous" dataType="integer"/>
  <DataField name="label" optype="categorical" dataType="string">
    <Value value="no"/><Value value="yes"/><Value value="maybe"/>
  </DataField>
  <DataField name="answer" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField>
  <DataField name="grade" optype="ordinal" dataType="string"><Value value="low"/><Value value="mid"/><Value value="high"/></DataField>
</DataDictionary>
"""

ROWS = pd.DataFrame({
    "x1": [-2.5, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.3, np.nan, 10.0, 0.1, 1.0, np.nan, 0.3, -0.7, 4.2],
    "x2": [0.1, 0.2, 0.3, np.nan, 1.0, 1.1, 2.2, 0.15, 0.3, 5.0, 0.30000001, np.nan, 0.25, 0.29999998, 1.5, 0.05],
    "n": [0, 1, 2, 3, np.nan, 5, 1, 2, 3, 0, 4, 2, np.nan, 1, 3, 6],
    "s": ["a", "b", "c", None, "a", "b", "c", "a", "b", "c", "a", "b", None, "c", "b", "a"],
})


def schema(*fields: str, target: str | None = None) -> str:
    lines = [f'<MiningField name="{target}" usageType="target"/>'] if target else []
    lines += [f'<MiningField name="{name}"/>' for name in fields]
    return "<MiningSchema>" + "".join(lines) + "</MiningSchema>"


def document(body: str, transformations: str = "") -> str:
    dictionary = f"<TransformationDictionary>{transformations}</TransformationDictionary>\n" if transformations else ""
    return HEADER + dictionary + body + "\n</PMML>\n"


# -- regression models -------------------------------------------------------------------------------
def linear_table(intercept: float = 0.25, scale: float = 1.0, category: str | None = None) -> str:
    head = f'<RegressionTable intercept="{intercept}"' + (f' targetCategory="{category}">' if category else ">")
    return (head + f'<NumericPredictor name="x1" coefficient="{0.8 * scale}"/>'
            f'<NumericPredictor name="x2" exponent="2" coefficient="{-0.3 * scale}"/>'
            f'<CategoricalPredictor name="s" value="a" coefficient="{0.4 * scale}"/>'
            f'<CategoricalPredictor name="s" value="b" coefficient="{-0.6 * scale}"/>'
            f'<PredictorTerm coefficient="{0.05 * scale}"><FieldRef field="x1"/><FieldRef field="n"/></PredictorTerm>'
            "</RegressionTable>")


def regression(method: str, math: str = "") -> str:
    context = f' x-mathContext="{math}"' if math else ""
    return document(f'<RegressionModel functionName="regression" normalizationMethod="{method}"{context}>'
                    + schema("x1", "x2", "s", "n", target="y") + linear_table(0.25, 0.5) + "</RegressionModel>")


def binary(method: str, default_second: bool = True, math: str = "") -> str:
    context = f' x-mathContext="{math}"' if math else ""
    second = '<RegressionTable intercept="0.0" targetCategory="no"/>' if default_second else linear_table(0.1, -0.5, "no")
    return document(f'<RegressionModel functionName="classification" normalizationMethod="{method}"{context}>'
                    + schema("x1", "x2", "s", "n", target="answer") + linear_table(0.2, 0.3, "yes") + second
                    + "</RegressionModel>")


def multiclass(method: str, math: str = "") -> str:
    context = f' x-mathContext="{math}"' if math else ""
    scale = 0.1 if method in ("none", "simplemax") else 1.0
    tables = (linear_table(0.3, 0.2 * scale, "no") + linear_table(0.2, -0.3 * scale, "yes")
              + linear_table(0.25, 0.1 * scale, "maybe"))
    return document(f'<RegressionModel functionName="classification" normalizationMethod="{method}"{context}>'
                    + schema("x1", "x2", "s", "n", target="label") + tables + "</RegressionModel>")


def ordinal(method: str) -> str:
    tables = linear_table(-0.5, 0.2, "low") + linear_table(0.5, 0.2, "mid") + '<RegressionTable intercept="0" targetCategory="high"/>'
    return document(f'<RegressionModel functionName="classification" normalizationMethod="{method}">'
                    + schema("x1", "x2", "s", "n", target="grade") + tables + "</RegressionModel>")


# -- trees -------------------------------------------------------------------------------------------
def distribution(no: float, yes: float, maybe: float) -> str:
    return (f'<ScoreDistribution value="no" recordCount="{no}"/><ScoreDistribution value="yes" recordCount="{yes}"/>'
            f'<ScoreDistribution value="maybe" recordCount="{maybe}"/>')


def tree_nodes(classify: bool) -> str:
    def node(id: str, score: str, predicate: str, counts: tuple[float, float, float], inner: str = "",
             default: str = "") -> str:
        value = score if classify else {"no": "1.5", "yes": "-2.25", "maybe": "0.125"}[score] + id.count("1") * "5"
        defaulted = f' defaultChild="{default}"' if default else ""
        shown = distribution(*counts) if classify else ""
        return f'<Node id="{id}" score="{value}" recordCount="{sum(counts)}"{defaulted}>{predicate}{shown}{inner}</Node>'

    leaf11 = node("r11", "no", '<CompoundPredicate booleanOperator="and"><SimplePredicate field="x2" operator="lessThan" '
                  'value="0.3"/><SimpleSetPredicate field="s" booleanOperator="isIn"><Array type="string" n="2">a c'
                  "</Array></SimpleSetPredicate></CompoundPredicate>", (20, 5, 5))
    leaf12 = node("r12", "maybe", '<CompoundPredicate booleanOperator="surrogate"><SimplePredicate field="n" '
                  'operator="greaterThan" value="2"/><SimplePredicate field="x2" operator="greaterOrEqual" value="0.3"/>'
                  "<False/></CompoundPredicate>", (5, 5, 20))
    leaf21 = node("r21", "yes", '<CompoundPredicate booleanOperator="xor"><SimplePredicate field="n" operator="equal" '
                  'value="1"/><SimplePredicate field="x2" operator="notEqual" value="0.1"/></CompoundPredicate>',
                  (2, 15, 3))
    leaf22 = node("r22", "no", '<SimpleSetPredicate field="s" booleanOperator="isNotIn"><Array type="string">"b"'
                  "</Array></SimpleSetPredicate>", (10, 8, 2))
    branch1 = node("r1", "yes", '<SimplePredicate field="x1" operator="lessOrEqual" value="1"/>', (25, 20, 15),
                   leaf11 + leaf12, "r11")
    branch2 = node("r2", "yes", '<CompoundPredicate booleanOperator="or"><SimplePredicate field="x1" '
                   'operator="greaterThan" value="1"/><SimplePredicate field="s" operator="equal" value="b"/>'
                   "</CompoundPredicate>", (12, 23, 5), leaf21 + leaf22, "r22")
    return node("r", "no", "<True/>", (37, 43, 20), branch1 + branch2, "r1")


def tree(strategy: str, no_true_child: str, classify: bool = True) -> str:
    function = "classification" if classify else "regression"
    return document(f'<TreeModel functionName="{function}" missingValueStrategy="{strategy}" '
                    f'noTrueChildStrategy="{no_true_child}">' + schema("x1", "x2", "s", "n",
                                                                     target="label" if classify else "y")
                    + tree_nodes(classify) + "</TreeModel>")


# -- ensembles ---------------------------------------------------------------------------------------
def small_tree(field: str, threshold: str, low: tuple[float, float, float], high: tuple[float, float, float],
               classify: bool, scores: tuple[str, str] = ("0.5", "-1.25")) -> str:
    function = "classification" if classify else "regression"
    target = f'<MiningField name="{"label" if classify else "y"}" usageType="target"/>'
    first = distribution(*low) if classify else ""
    second = distribution(*high) if classify else ""
    score1, score2 = ("no", "yes") if classify else scores
    return (f'<TreeModel functionName="{function}" missingValueStrategy="nullPrediction">'
            f'<MiningSchema>{target}<MiningField name="{field}"/></MiningSchema>'
            f'<Node score="{score1}"><True/>{first}'
            f'<Node score="{score1}"><SimplePredicate field="{field}" operator="lessThan" value="{threshold}"/>{first}</Node>'
            f'<Node score="{score2}"><True/>{second}</Node></Node></TreeModel>')


def ensemble(method: str, classify: bool, treatment: str = "returnMissing", threshold: str = "") -> str:
    limit = f' missingThreshold="{threshold}"' if threshold else ""
    if classify:
        members = [
            ("<True/>", 1.0, small_tree("x1", "0.5", (6, 3, 1), (1, 6, 3), True)),
            ('<SimplePredicate field="n" operator="greaterThan" value="1"/>', 2.5,
             small_tree("x2", "0.3", (2, 2, 6), (5, 4, 1), True)),
            ("<True/>", 0.5, small_tree("n", "2", (3, 3, 4), (4, 3, 3), True)),
            ('<SimplePredicate field="s" operator="equal" value="a"/>', 1.5,
             small_tree("x1", "2", (1, 1, 8), (3, 5, 2), True)),
        ]
    else:
        members = [
            ("<True/>", 1.0, small_tree("x1", "0.5", (0, 0, 0), (0, 0, 0), False, ("0.5", "-1.25"))),
            ('<SimplePredicate field="n" operator="greaterThan" value="1"/>', 2.5,
             small_tree("x2", "0.3", (0, 0, 0), (0, 0, 0), False, ("3.75", "0.1"))),
            ("<True/>", 0.5, small_tree("n", "2", (0, 0, 0), (0, 0, 0), False, ("-0.3", "2.2"))),
            ('<SimplePredicate field="s" operator="equal" value="a"/>', 1.5,
             small_tree("x1", "2", (0, 0, 0), (0, 0, 0), False, ("10", "-7.5"))),
        ]
    segments = "".join(f'<Segment id="{index}" weight="{weight}">{predicate}{model}</Segment>'
                       for index, (predicate, weight, model) in enumerate(members, 1))
    function = "classification" if classify else "regression"
    return document(f'<MiningModel functionName="{function}">' + schema("x1", "x2", "n", "s",
                                                                       target="label" if classify else "y")
                    + f'<Segmentation multipleModelMethod="{method}" missingPredictionTreatment="{treatment}"{limit}>'
                    + segments + "</Segmentation></MiningModel>")


def chain(classify: bool) -> str:
    first = ('<RegressionModel functionName="regression"><MiningSchema><MiningField name="x1"/><MiningField name="n"/>'
             '</MiningSchema><Output><OutputField name="z" optype="continuous" dataType="double" isFinalResult="false"/>'
             '</Output><RegressionTable intercept="0.5"><NumericPredictor name="x1" coefficient="1.5"/>'
             '<NumericPredictor name="n" coefficient="-0.25"/></RegressionTable></RegressionModel>')
    second = ('<RegressionModel functionName="regression"><MiningSchema><MiningField name="x2"/></MiningSchema>'
              '<Output><OutputField name="z2" optype="continuous" dataType="double" isFinalResult="false"/></Output>'
              '<RegressionTable intercept="-3"><NumericPredictor name="x2" coefficient="2"/></RegressionTable>'
              "</RegressionModel>")
    if classify:
        last = ('<RegressionModel functionName="classification" normalizationMethod="logit"><MiningSchema>'
                '<MiningField name="answer" usageType="target"/><MiningField name="z"/></MiningSchema><Output>'
                '<OutputField name="p_yes" optype="continuous" dataType="double" feature="probability" value="yes"/>'
                '<OutputField name="p_best" optype="continuous" dataType="double" feature="probability"/>'
                '<OutputField name="said" optype="categorical" dataType="string" feature="predictedValue"/>'
                '</Output><RegressionTable intercept="0.1" targetCategory="yes"><NumericPredictor name="z" '
                'coefficient="1.2"/></RegressionTable><RegressionTable intercept="0" targetCategory="no"/>'
                "</RegressionModel>")
    else:
        last = ('<TreeModel functionName="regression"><MiningSchema><MiningField name="y" usageType="target"/>'
                '<MiningField name="z"/></MiningSchema>'
                '<Output><OutputField name="twice" optype="continuous" dataType="double" feature="transformedValue">'
                '<Apply function="*"><FieldRef field="z"/><Constant>2</Constant></Apply></OutputField></Output>'
                '<Node score="1"><True/><Node score="2"><SimplePredicate field="z" operator="lessThan" value="0"/>'
                '</Node><Node score="3"><True/></Node></Node></TreeModel>')
    function = "classification" if classify else "regression"
    target = "answer" if classify else "y"
    return document(f'<MiningModel functionName="{function}">' + schema("x1", "x2", "n", target=target)
                    + '<Segmentation multipleModelMethod="modelChain" missingPredictionTreatment="returnMissing">'
                    + f'<Segment id="1"><True/>{first}</Segment>'
                    + f'<Segment id="2"><SimplePredicate field="x2" operator="greaterThan" value="1"/>{second}</Segment>'
                    + f'<Segment id="3"><True/>{last}</Segment></Segmentation></MiningModel>')


# -- transformations, types, mining-field treatments, targets, float arithmetic ------------------
TRANSFORMATIONS = """
<DerivedField name="fx1" optype="continuous" dataType="double"><FieldRef field="x1" mapMissingTo="0.75"/></DerivedField>
<DerivedField name="fx2" optype="continuous" dataType="float"><FieldRef field="x2" mapMissingTo="0.5"/></DerivedField>
<DerivedField name="fn" optype="continuous" dataType="integer"><FieldRef field="n" mapMissingTo="2"/></DerivedField>
<DerivedField name="fs" optype="categorical" dataType="string"><FieldRef field="s" mapMissingTo="b"/></DerivedField>
<DerivedField name="d_plus" optype="continuous" dataType="double"><Apply function="+"><FieldRef field="x1"/><Constant dataType="double">1.5</Constant></Apply></DerivedField>
<DerivedField name="d_if" optype="continuous" dataType="double"><Apply function="if"><Apply function="greaterThan"><FieldRef field="fx1"/><Constant>0</Constant></Apply><Apply function="ln"><FieldRef field="fx1"/></Apply><Constant>-1</Constant></Apply></DerivedField>
<DerivedField name="d_norm" optype="continuous" dataType="double"><NormContinuous field="x1" outliers="asExtremeValues" mapMissingTo="0.5"><LinearNorm orig="-1" norm="0"/><LinearNorm orig="0" norm="0.5"/><LinearNorm orig="2" norm="1"/></NormContinuous></DerivedField>
<DerivedField name="d_norm_as_is" optype="continuous" dataType="double"><NormContinuous field="fx2"><LinearNorm orig="0.1" norm="-1"/><LinearNorm orig="1" norm="1"/></NormContinuous></DerivedField>
<DerivedField name="d_norm_missing" optype="continuous" dataType="double"><NormContinuous field="fx1" outliers="asMissingValues"><LinearNorm orig="-1" norm="0"/><LinearNorm orig="2" norm="1"/></NormContinuous></DerivedField>
<DerivedField name="d_is_a" optype="continuous" dataType="double"><NormDiscrete field="fs" value="a"/></DerivedField>
<DerivedField name="d_bin" optype="categorical" dataType="string"><Discretize field="x2" mapMissingTo="missing" defaultValue="none"><DiscretizeBin binValue="low"><Interval closure="openOpen" rightMargin="0.2"/></DiscretizeBin><DiscretizeBin binValue="mid"><Interval closure="closedOpen" leftMargin="0.2" rightMargin="1"/></DiscretizeBin><DiscretizeBin binValue="high"><Interval closure="closedClosed" leftMargin="1" rightMargin="3"/></DiscretizeBin></Discretize></DerivedField>
<DerivedField name="d_map" optype="continuous" dataType="double"><MapValues outputColumn="out" dataType="double" defaultValue="0" mapMissingTo="9"><FieldColumnPair field="s" column="in"/><InlineTable><row><in>a</in><out>1.5</out></row><row><in>b</in><out>-2</out></row></InlineTable></MapValues></DerivedField>
<DerivedField name="d_min" optype="continuous" dataType="double"><Apply function="min"><FieldRef field="x1"/><FieldRef field="x2"/><FieldRef field="n"/></Apply></DerivedField>
<DerivedField name="d_avg" optype="continuous" dataType="double"><Apply function="avg"><FieldRef field="x1"/><FieldRef field="n"/></Apply></DerivedField>
<DerivedField name="d_pow" optype="continuous" dataType="double"><Apply function="pow"><FieldRef field="fx1"/><Constant>2</Constant></Apply></DerivedField>
<DerivedField name="d_round" optype="continuous" dataType="integer"><Apply function="round"><FieldRef field="fx1"/></Apply></DerivedField>
<DerivedField name="d_floor_ceil" optype="continuous" dataType="double"><Apply function="-"><Apply function="ceil"><FieldRef field="fx2"/></Apply><Apply function="floor"><FieldRef field="fx1"/></Apply></Apply></DerivedField>
<DerivedField name="d_math" optype="continuous" dataType="double"><Apply function="+"><Apply function="exp"><Apply function="abs"><FieldRef field="fx2"/></Apply></Apply><Apply function="sqrt"><Apply function="log10"><Apply function="+"><Apply function="abs"><FieldRef field="fx1"/></Apply><Constant>1</Constant></Apply></Apply></Apply></Apply></DerivedField>
<DerivedField name="d_threshold" optype="continuous" dataType="integer"><Apply function="threshold"><FieldRef field="fx1"/><Constant>1</Constant></Apply></DerivedField>
<DerivedField name="d_mapped_missing" optype="continuous" dataType="double"><Apply function="*" mapMissingTo="-100"><FieldRef field="x2"/><FieldRef field="n"/></Apply></DerivedField>
<DerivedField name="d_int_div" optype="continuous" dataType="double"><Apply function="/"><FieldRef field="n"/><Constant>2</Constant></Apply></DerivedField>
<DerivedField name="d_logic" optype="categorical" dataType="boolean"><Apply function="or"><Apply function="and"><Apply function="isMissing"><FieldRef field="x2"/></Apply><Apply function="not"><Apply function="equal"><FieldRef field="fs"/><Constant>a</Constant></Apply></Apply></Apply><Apply function="isIn"><FieldRef field="fn"/><Constant>1</Constant><Constant>3</Constant></Apply></Apply></DerivedField>
<DerivedField name="d_text" optype="categorical" dataType="string"><Apply function="concat"><Apply function="uppercase"><FieldRef field="fs"/></Apply><Constant>-</Constant><Apply function="substring"><Constant>pmml</Constant><Constant>2</Constant><Constant>2</Constant></Apply></Apply></DerivedField>
<DerivedField name="d_chained" optype="continuous" dataType="float"><Apply function="*"><FieldRef field="d_plus"/><FieldRef field="d_norm"/></Apply></DerivedField>
"""
DERIVED = ["d_plus", "d_if", "d_norm", "d_norm_as_is", "d_norm_missing", "d_is_a", "d_bin", "d_map", "d_min", "d_avg",
           "d_pow", "d_round", "d_floor_ceil", "d_math", "d_threshold", "d_mapped_missing", "d_int_div", "d_logic",
           "d_text", "d_chained", "d_local"]


def transformations() -> str:
    types = {"d_bin": "string", "d_text": "string", "d_round": "integer", "d_threshold": "integer",
             "d_logic": "boolean", "d_chained": "float"}
    outputs = "".join(f'<OutputField name="out_{name}" dataType="{types.get(name, "double")}" feature="transformedValue">'
                      f'<FieldRef field="{name}"/></OutputField>' for name in DERIVED)
    local = ('<LocalTransformations><DerivedField name="d_local" optype="continuous" dataType="double"><Apply function="*">'
             '<FieldRef field="d_map"/><FieldRef field="d_is_a"/></Apply></DerivedField></LocalTransformations>')
    return document('<RegressionModel functionName="regression">' + schema("x1", "x2", "n", "s", target="y")
                    + f"<Output>{outputs}</Output>{local}"
                    + '<RegressionTable intercept="1"><NumericPredictor name="d_norm" coefficient="2"/>'
                    '<NumericPredictor name="d_local" coefficient="0.5"/><NumericPredictor name="d_map" coefficient="0.25"/>'
                    "</RegressionTable></RegressionModel>", TRANSFORMATIONS)


def treatments() -> str:
    mining = ('<MiningSchema><MiningField name="y" usageType="target"/>'
              '<MiningField name="x1" missingValueReplacement="0.75"/>'
              '<MiningField name="x2" outliers="asExtremeValues" lowValue="0.15" highValue="2"/>'
              '<MiningField name="n" outliers="asMissingValues" highValue="3" missingValueReplacement="1"/>'
              '<MiningField name="s" invalidValueTreatment="asMissing"/></MiningSchema>')
    return document('<RegressionModel functionName="regression">' + mining + linear_table(0.5, 1.0)
                    + "</RegressionModel>")


def targets(kind: str) -> str:
    if kind == "regression":
        target = ('<Targets><Target field="yi" rescaleFactor="2.5" rescaleConstant="1" min="-1" max="3" castInteger="round">'
                  '<TargetValue defaultValue="7"/></Target></Targets>')
        return document('<RegressionModel functionName="regression">' + schema("x1", "x2", "s", "n", target="yi")
                        + target + linear_table(0.25, 1.0) + "</RegressionModel>")
    if kind in ("ceiling", "floor"):
        target = f'<Targets><Target field="y" rescaleFactor="3" castInteger="{kind}"/></Targets>'
        return document('<RegressionModel functionName="regression">' + schema("x1", "x2", "s", "n", target="y")
                        + target + linear_table(0.25, 1.0) + "</RegressionModel>")
    priors = ('<Targets><Target field="label"><TargetValue value="no" priorProbability="0.2"/>'
              '<TargetValue value="yes" priorProbability="0.5"/><TargetValue value="maybe" priorProbability="0.3"/>'
              "</Target></Targets>")
    return document('<TreeModel functionName="classification" missingValueStrategy="nullPrediction">'
                    + schema("x1", "x2", "s", "n", target="label") + priors + tree_nodes(True) + "</TreeModel>")


def float_tree() -> str:
    return document('<MiningModel functionName="regression" x-mathContext="float">' + schema("x1", "x2", "n", target="y")
                    + '<Targets><Target field="y" rescaleConstant="0.1" rescaleFactor="0.3"/></Targets>'
                    + '<Segmentation multipleModelMethod="average">'
                    + "".join(f'<Segment id="{index}"><True/>{small_tree(field, cut, (0, 0, 0), (0, 0, 0), False, scores)}</Segment>'
                              .replace('<TreeModel functionName="regression"', '<TreeModel functionName="regression" x-mathContext="float"')
                              for index, (field, cut, scores) in enumerate(
                                  [("x1", "0.5", ("0.1", "0.7")), ("x2", "0.3", ("0.2", "0.3")), ("n", "2", ("1.1", "0.9"))], 1))
                    + "</Segmentation></MiningModel>")


def integer_and_boolean() -> str:
    dictionary = """<?xml version="1.0"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/><DataDictionary>
<DataField name="count" optype="categorical" dataType="integer"><Value value="1"/><Value value="2"/><Value value="3"/></DataField>
<DataField name="on" optype="categorical" dataType="boolean"/>
<DataField name="level" optype="ordinal" dataType="string"><Value value="low"/><Value value="mid"/><Value value="high"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/></DataDictionary>"""
    return dictionary + """<TreeModel functionName="regression" missingValueStrategy="lastPrediction" noTrueChildStrategy="returnLastPrediction">
<MiningSchema><MiningField name="y" usageType="target"/><MiningField name="count"/><MiningField name="on"/><MiningField name="level"/></MiningSchema>
<Node score="0"><True/>
 <Node score="1"><SimplePredicate field="count" operator="notEqual" value="3"/>
   <Node score="11"><SimplePredicate field="on" operator="equal" value="true"/></Node>
   <Node score="12"><SimplePredicate field="level" operator="greaterOrEqual" value="mid"/></Node>
 </Node>
 <Node score="2"><SimpleSetPredicate field="count" booleanOperator="isIn"><Array type="int">3</Array></SimpleSetPredicate>
   <Node score="21"><SimplePredicate field="level" operator="lessThan" value="high"/></Node>
 </Node>
</Node></TreeModel></PMML>"""


def rule_set(criterion: str, default: bool = True) -> str:
    fallback = ' defaultScore="maybe" defaultConfidence="0.3"' if default else ""
    rules = (
        '<SimpleRule id="r1" score="yes" weight="0.7" confidence="0.8"><SimplePredicate field="x1" operator="greaterThan" '
        'value="1"/></SimpleRule>'
        '<CompoundRule><SimplePredicate field="s" operator="equal" value="a"/>'
        '<SimpleRule id="r2" score="no" weight="0.9" confidence="0.6"><SimplePredicate field="x2" operator="lessThan" '
        'value="0.3"/></SimpleRule>'
        '<SimpleRule id="r3" score="yes" weight="0.4" confidence="0.95"><SimplePredicate field="n" operator="lessOrEqual" '
        'value="2"/></SimpleRule></CompoundRule>'
        '<SimpleRule id="r4" score="no" weight="0.7" confidence="0.5"><CompoundPredicate booleanOperator="or">'
        '<SimplePredicate field="n" operator="greaterThan" value="3"/><SimplePredicate field="x1" operator="lessThan" '
        'value="0"/></CompoundPredicate></SimpleRule>'
        '<SimpleRule id="r5" score="maybe" weight="1.5" confidence="0.2"><SimplePredicate field="x2" '
        'operator="greaterOrEqual" value="1.5"/></SimpleRule>')
    return document('<RuleSetModel functionName="classification">' + schema("x1", "x2", "s", "n", target="label")
                    + f'<RuleSet{fallback}><RuleSelectionMethod criterion="{criterion}"/>'
                    + '<RuleSelectionMethod criterion="firstHit"/>' + rules + "</RuleSet></RuleSetModel>")


def scorecard() -> str:
    characteristics = (
        '<Characteristic name="by_x1" baselineScore="0"><Attribute partialScore="-3"><SimplePredicate field="x1" '
        'operator="lessThan" value="0"/></Attribute><Attribute partialScore="5.5"><SimplePredicate field="x1" '
        'operator="lessOrEqual" value="2"/></Attribute><Attribute partialScore="8"><True/></Attribute></Characteristic>'
        '<Characteristic name="by_s" baselineScore="0"><Attribute partialScore="2"><SimpleSetPredicate field="s" '
        'booleanOperator="isIn"><Array type="string">a b</Array></SimpleSetPredicate></Attribute>'
        '<Attribute partialScore="-1"><SimplePredicate field="s" operator="isMissing"/></Attribute>'
        '<Attribute partialScore="0.25"><True/></Attribute></Characteristic>'
        '<Characteristic name="by_n" baselineScore="0"><Attribute><SimplePredicate field="n" operator="isNotMissing"/>'
        '<ComplexPartialScore><Apply function="*"><FieldRef field="n"/><Constant>1.5</Constant></Apply>'
        '</ComplexPartialScore></Attribute><Attribute partialScore="0"><SimplePredicate field="x2" '
        'operator="greaterThan" value="1"/></Attribute></Characteristic>')
    return document('<Scorecard functionName="regression" useReasonCodes="false" initialScore="10">'
                    + schema("x1", "x2", "s", "n", target="y") + f"<Characteristics>{characteristics}</Characteristics>"
                    + "</Scorecard>")


INTEGER_ROWS = pd.DataFrame({
    "count": [1, 2, 3, 1, 2, 3, None, 1],
    "on": [True, False, True, None, True, False, True, False],
    "level": ["low", "mid", "high", "high", None, "low", "mid", "mid"],
})

DOCUMENTS = {
    **{f"regression_{method}": regression(method) for method in
       ("none", "exp", "logit", "probit", "cloglog", "loglog", "cauchit", "softmax")},
    "regression_float_logit": regression("logit", "float"),
    **{f"binary_{method}": binary(method) for method in
       ("none", "logit", "probit", "cloglog", "loglog", "cauchit", "softmax", "simplemax")},
    "binary_softmax_two_tables": binary("softmax", default_second=False),
    "binary_float_logit": binary("logit", math="float"),
    **{f"multiclass_{method}": multiclass(method) for method in ("none", "softmax", "simplemax", "logit")},
    "multiclass_float_softmax": multiclass("softmax", "float"),
    **{f"ordinal_{method}": ordinal(method) for method in ("none", "logit", "probit", "cloglog", "loglog", "cauchit")},
    **{f"tree_{strategy}_{rule}": tree(strategy, rule) for strategy in
       ("none", "lastPrediction", "nullPrediction", "defaultChild")
       for rule in ("returnNullPrediction", "returnLastPrediction")},
    **{f"regression_tree_{strategy}": tree(strategy, "returnLastPrediction", classify=False) for strategy in
       ("none", "lastPrediction", "nullPrediction", "defaultChild")},
    **{f"ensemble_regression_{method}": ensemble(method, False) for method in
       ("sum", "weightedSum", "average", "weightedAverage", "median", "weightedMedian", "selectFirst", "selectAll")},
    **{f"ensemble_classification_{method}": ensemble(method, True) for method in
       ("majorityVote", "weightedMajorityVote", "average", "weightedAverage", "median", "max", "selectFirst")},
    **{f"ensemble_{treatment}_{method}": ensemble(method, method != "average", treatment, "0.5")
       for treatment in ("skipSegment", "continue") for method in ("average", "majorityVote")},
    "chain_regression": chain(False),
    "chain_classification": chain(True),
    "transformations": transformations(),
    "mining_field_treatments": treatments(),
    "targets_regression": targets("regression"),
    "targets_ceiling": targets("ceiling"),
    "targets_floor": targets("floor"),
    "targets_priors": targets("priors"),
    "float_tree_ensemble": float_tree(),
    **{f"rule_set_{criterion}": rule_set(criterion) for criterion in ("firstHit", "weightedSum", "weightedMax")},
    "rule_set_without_default": rule_set("weightedSum", default=False),
    "scorecard": scorecard(),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_tidal_answers_as_jpmml(name, tmp_path):
    require_jpmml()
    path = tmp_path / f"{name}.pmml"
    path.write_text(DOCUMENTS[name])
    rows = ROWS
    if name == "mining_field_treatments":
        rows = pd.concat([ROWS, pd.DataFrame({"x1": [1.0], "x2": [0.5], "n": [2], "s": ["z"]})], ignore_index=True)
    assert_matches_jpmml(path, rows)


def test_integer_boolean_and_ordinal_fields_compare_in_their_own_type(tmp_path):
    require_jpmml()
    path = tmp_path / "types.pmml"
    path.write_text(integer_and_boolean())
    assert_matches_jpmml(path, INTEGER_ROWS)
