from typing import Annotated, Literal, NamedTuple

import pandas as pd
import pyarrow as pa
import pytest

import tidal
from tidal import Column, LazyTable, Metrics, Param, component
from tidal.core import DataError, ValidationFailed


@component("unit.scale", register=False)
def scale(data: pd.DataFrame, *, column: Column, factor: Annotated[float, Param(gt=0, log=True, help="multiplier")] = 2.0,
          mode: Literal["mul", "add"] = "mul") -> pd.DataFrame:
    """Scale a column."""
    data = data.copy()
    data[column] = data[column] * factor if mode == "mul" else data[column] + factor
    return data


class Parts(NamedTuple):
    head: pa.Table
    rest: pa.Table


@component("unit.parts", register=False)
def parts(data: pa.Table, *, rows: Annotated[int, Param(ge=0)] = 1) -> Parts:
    """Split off the first rows."""
    return Parts(data.slice(0, rows), data.slice(rows))


@component("unit.count", register=False)
def count(data: LazyTable) -> Metrics:
    """Count rows with DuckDB."""
    return Metrics({"rows": data.sql("select count(*) from data").fetchall()[0][0]})


def test_signature_becomes_ports_and_params():
    assert [p.name for p in scale.inputs] == ["data"]
    assert scale.inputs[0].type == "Table" and scale.inputs[0].delivery == "pandas"
    assert [p.name for p in scale.params] == ["column", "factor", "mode"]
    assert [p.name for p in parts.outputs] == ["head", "rest"]
    assert parts.inputs[0].delivery == "arrow"
    assert count.inputs[0].delivery == "lazy"


def test_json_schema_carries_bounds_choices_and_hints():
    schema = scale.params_schema()
    factor = schema["properties"]["factor"]
    assert factor["exclusiveMinimum"] == 0 and factor["x-log"] is True and factor["description"] == "multiplier"
    assert schema["properties"]["mode"]["enum"] == ["mul", "add"]
    assert schema["properties"]["column"]["x-column-of"] == "*"
    assert schema["required"] == ["column"]


def test_eager_call_runs_on_real_data_and_converts_tables():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert scale(frame, column="a", factor=3)["a"].tolist() == [3.0, 6.0]
    result = parts(frame, rows=1)  # a DataFrame is delivered as Arrow
    assert isinstance(result.head, pa.Table) and result.rest.num_rows == 1
    assert count(frame)["rows"] == 2  # and as a DuckDB-queryable lazy table


def test_parameter_errors_name_the_parameter():
    with pytest.raises(ValidationFailed) as info:
        scale(pd.DataFrame({"a": [1]}), column="a", factor=-1, mode="pow", colour=1)
    named = {issue.param for issue in info.value.issues}
    assert named == {"factor", "mode", "colour"}
    assert "greater than 0" in str(info.value)


def test_missing_column_is_named_with_the_available_ones():
    with pytest.raises(DataError, match=r"column 'b' not found in input 'data' \(columns: a\)"):
        scale(pd.DataFrame({"a": [1]}), column="b")


def test_non_port_positional_parameter_is_refused():
    with pytest.raises(TypeError, match="keyword-only"):
        @component("unit.bad", register=False)
        def bad(data: pd.DataFrame, factor: float = 1.0) -> pd.DataFrame:
            return data


def test_ids_must_be_category_dot_name():
    with pytest.raises(ValueError, match="category.name"):
        component("NoCategory", register=False)(lambda: None)


def test_registry_rejects_a_second_component_with_the_same_id():
    with pytest.raises(tidal.TidalError, match="registered twice"):
        @component("data.split")
        def other(data: pd.DataFrame) -> pd.DataFrame:
            return data


def test_unknown_component_suggests_close_ids():
    with pytest.raises(tidal.NotFound, match="did you mean data.split"):
        tidal.get_component("data.splt")


def test_public_surface_is_listed():
    import tidal as package

    for name in package.__all__:
        assert hasattr(package, name), name
    assert {"component", "Pipeline", "run", "ModelPackage", "Param", "Column"} <= set(package.__all__)
