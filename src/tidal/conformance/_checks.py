"""The conformance suite: the checks every component must pass, built-in or plug-in.

Run it over the whole registry (Tidal's own tests do) or over your plug-in's components::

    from tidal.conformance import parametrize_with_checks

    @parametrize_with_checks(["acme.my_component"])
    def test_conformance(component_id, check):
        check()

Checks choose their data from the component's ``sample`` tag (see :mod:`tidal.conformance._samples`),
never from its name. Known, accepted failures live in :data:`EXPECTED_FAILURES` with a reason.
"""

from __future__ import annotations

import doctest
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, get_origin

import numpy as np
import pandas as pd
import pyarrow as pa

from tidal.conformance._samples import Sample, sample_for, sample_model
from tidal.core._component import ComponentSpec
from tidal.core._errors import TidalError, ValidationFailed
from tidal.core._ports import Figure, LazyTable, Metrics, port_type_of_value
from tidal.core._registry import registry

CHECKS = ("schema", "docs", "runs", "deterministic", "bad_params", "empty_input", "model_roundtrip")

#: (component id, check) -> why the failure is accepted
EXPECTED_FAILURES: dict[tuple[str, str], str] = {
    ("model.optimize", "deterministic"): "it times the variants on the machine: two runs measure different latencies "
                                         "(and may pick a different variant)",
}


class ConformanceError(AssertionError):
    pass


def _fail(spec: ComponentSpec, check: str, message: str) -> None:
    raise ConformanceError(f"{spec.id} [{check}]: {message}")


def sample_kind(spec: ComponentSpec) -> str:
    kind = spec.tags.get("sample")
    if kind:
        return str(kind)
    return "mixed" if any(port.type == "Table" for port in spec.inputs) else "none"


def sample_call(spec: ComponentSpec, sample: Sample | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inputs and parameters for running ``spec`` on its tiny sample."""
    sample = sample or sample_for(sample_kind(spec))
    inputs: dict[str, Any] = {}
    for port in spec.inputs:
        if port.type == "Table":
            inputs[port.name] = sample.tables.get(port.name, sample.table).copy()
        elif port.type == "Model":
            inputs[port.name] = _model_for(spec, sample)
        elif port.type == "Metrics":
            inputs[port.name] = Metrics({"value": 1.0})
        elif port.type == "Figure":
            inputs[port.name] = Figure({"mark": "point"})
    params: dict[str, Any] = {}
    explicit = dict(spec.tags.get("sample_params", {}))
    for param in spec.params:
        if param.name in explicit:
            params[param.name] = explicit[param.name]
        elif param.required and param.meta.file is None:
            if param.name not in sample.params:
                raise ConformanceError(
                    f"{spec.id}: required parameter '{param.name}' has no sample value; "
                    "declare tags={'sample_params': {...}}"
                )
            params[param.name] = sample.params[param.name]
    for name, value in explicit.items():
        params[name] = value
    _sample_files(spec, sample, params)
    return inputs, params


def _model_for(spec: ComponentSpec, sample: Sample) -> Any:
    """A model for a Model input: trained by the component named in the ``sample_model`` tag on the
    same sample, or a small linear model otherwise."""
    trainer_id = spec.tags.get("sample_model")
    if not trainer_id:
        return sample_model(sample)
    trainer = registry.get(str(trainer_id))
    inputs, params = sample_call(trainer, sample)
    outputs = trainer.execute(inputs, params)
    return next(value for value in outputs.values() if port_type_of_value(value) == "Model")


def _sample_files(spec: ComponentSpec, sample: Sample, params: dict[str, Any]) -> None:
    """File parameters get a fresh temporary file: input files hold the sample table."""
    file_format = str(spec.tags.get("file_format", "csv"))
    for param in spec.params:
        if param.meta.file is None or param.name in spec.tags.get("sample_params", {}):
            continue
        folder = Path(tempfile.gettempdir()) / "tidal-conformance" / spec.id / param.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"sample.{file_format}"
        if param.meta.file == "input":
            _write_sample(sample.table, path, file_format)
        params[param.name] = str(path)


def _as_frame(value: Any) -> pd.DataFrame:
    if isinstance(value, pa.Table):
        return value.to_pandas()
    if isinstance(value, LazyTable):
        return value.to_pandas()
    return value  # type: ignore[no-any-return]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (pd.DataFrame, pa.Table, LazyTable)):
        left, right = _as_frame(a), _as_frame(b)
        try:
            pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False)
        except AssertionError:
            return False
        return True
    if isinstance(a, dict):
        return set(a) == set(b) and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _model_output(model: Any, table: pd.DataFrame) -> Any:
    if model.task == "transform":
        return model.transform(table)
    predictions = np.asarray(model.predict(table))
    if model.task in ("binary", "multiclass"):
        return (predictions.tolist(), np.round(model.predict_proba(table), 10).tolist())
    return predictions.tolist()


def _comparable(spec: ComponentSpec, outputs: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    result = {}
    for name, value in outputs.items():
        if port_type_of_value(value) == "Model":
            result[name] = _model_output(value, table)
        elif isinstance(value, Metrics):
            result[name] = (dict(value), value.figures, value.tables)
        else:
            result[name] = value
    return result


# -- the checks ------------------------------------------------------------------------------------


def check_schema(spec: ComponentSpec) -> None:
    if not spec.title:
        _fail(spec, "schema", "no title")
    if not spec.description.strip():
        _fail(spec, "schema", "no description: write a docstring")
    schema = spec.params_schema()
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    for param in spec.params:
        if not param.required:
            issues = [
                issue
                for issue in spec.param_issues({**_required_sample(spec), param.name: param.default})
                if issue.param == param.name
            ]
            if issues:
                _fail(spec, "schema", f"default of '{param.name}' is rejected by its own declaration: {issues[0]}")
    if not spec.outputs:
        _fail(spec, "schema", "no outputs")


def _required_sample(spec: ComponentSpec) -> dict[str, Any]:
    try:
        return sample_call(spec)[1]
    except ConformanceError:
        return {}


def _write_sample(table: pd.DataFrame, path: Path, file_format: str) -> None:
    if file_format == "csv":
        table.to_csv(path, index=False)
    elif file_format == "parquet":
        table.to_parquet(path, index=False)
    elif file_format in ("jsonl", "json"):
        table.to_json(path, orient="records", lines=True)
    elif file_format == "xlsx":
        table.to_excel(path, index=False)
    else:
        raise ConformanceError(f"unknown file_format tag {file_format!r}")


def check_docs(spec: ComponentSpec) -> None:
    if "Examples" not in spec.description or ">>>" not in spec.description:
        _fail(spec, "docs", "the docstring needs an 'Examples' block with runnable '>>>' lines")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(spec.description, dict(spec.func.__globals__), spec.id, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    output: list[str] = []
    runner.run(test, out=output.append)
    if runner.failures:
        _fail(spec, "docs", "the example does not run as written:\n" + "".join(output))


def check_runs(spec: ComponentSpec) -> None:
    inputs, params = sample_call(spec)
    outputs = spec.execute(inputs, params)
    for port in spec.outputs:
        if port.name not in outputs:
            _fail(spec, "runs", f"output '{port.name}' missing")
        actual = port_type_of_value(outputs[port.name])
        if actual != port.type:
            _fail(spec, "runs", f"output '{port.name}' is {actual}, declared {port.type}")


def check_deterministic(spec: ComponentSpec) -> None:
    sample = sample_for(sample_kind(spec))
    first = spec.execute(*sample_call(spec, sample))
    second = spec.execute(*sample_call(spec, sample))
    a, b = _comparable(spec, first, sample.table), _comparable(spec, second, sample.table)
    for name in a:
        if not _same(a[name], b[name]):
            _fail(spec, "deterministic", f"output '{name}' differs between two runs with the same inputs and seed")


def _bad_values(annotation: Any, param: Any) -> list[Any]:
    meta = param.meta
    bad: list[Any] = []
    if meta.gt is not None:
        bad.append(meta.gt)
    if meta.ge is not None:
        bad.append(meta.ge - 1)
    if meta.lt is not None:
        bad.append(meta.lt)
    if meta.le is not None:
        bad.append(meta.le + 1)
    if get_origin(annotation) is Literal:
        bad.append("__not_a_choice__")
    if annotation in (int, float):
        bad.append("not a number")
    return bad


def check_bad_params(spec: ComponentSpec) -> None:
    _, base = sample_call(spec)
    inputs, _ = sample_call(spec)
    for param in spec.params:
        for value in _bad_values(param.annotation, param):
            try:
                spec.execute(inputs, {**base, param.name: value})
            except ValidationFailed as error:
                if not any(issue.param == param.name for issue in error.issues):
                    _fail(spec, "bad_params", f"error for {param.name}={value!r} does not name the parameter: {error}")
                continue
            _fail(spec, "bad_params", f"{param.name}={value!r} was accepted")
    try:
        spec.execute(inputs, {**base, "__no_such_param__": 1})
    except ValidationFailed as error:
        if not any(issue.param == "__no_such_param__" for issue in error.issues):
            _fail(spec, "bad_params", "an unknown parameter is not named in the error")
    else:
        _fail(spec, "bad_params", "an unknown parameter was accepted")


def check_empty_input(spec: ComponentSpec) -> None:
    tables = [port for port in spec.inputs if port.type == "Table"]
    if not tables:
        return
    inputs, params = sample_call(spec)
    for port in tables:
        empty = dict(inputs)
        empty[port.name] = _as_frame(inputs[port.name]).iloc[0:0]
        try:
            spec.execute(empty, params)
        except TidalError:
            continue
        except Exception as error:
            _fail(spec, "empty_input", f"an empty '{port.name}' raised {type(error).__name__}: {error} — raise DataError with a clear message, or handle it")
    wrong = dict(inputs)
    wrong[tables[0].name] = "not a table"
    try:
        spec.execute(wrong, params)
    except TidalError:
        pass
    except Exception as error:
        _fail(spec, "empty_input", f"a mistyped input raised {type(error).__name__}: {error}")
    else:
        _fail(spec, "empty_input", "a string given as a table was accepted")


def check_model_roundtrip(spec: ComponentSpec) -> None:
    if not any(port.type == "Model" for port in spec.outputs):
        return
    from tidal.models import ModelPackage

    sample = sample_for(sample_kind(spec))
    outputs = spec.execute(*sample_call(spec, sample))
    for port in spec.outputs:
        if port.type != "Model":
            continue
        model = outputs[port.name]
        with tempfile.TemporaryDirectory() as scratch:
            path = model.save_archive(Path(scratch) / "model.zip")
            loaded = ModelPackage.load(path)
        if loaded.features != model.features or loaded.task != model.task:
            _fail(spec, "model_roundtrip", "the manifest changed on reload")
        if not _same(_model_output(model, sample.table), _model_output(loaded, sample.table)):
            _fail(spec, "model_roundtrip", f"'{port.name}' predicts differently after save and load")


CHECK_FUNCTIONS: dict[str, Callable[[ComponentSpec], None]] = {
    "schema": check_schema,
    "docs": check_docs,
    "runs": check_runs,
    "deterministic": check_deterministic,
    "bad_params": check_bad_params,
    "empty_input": check_empty_input,
    "model_roundtrip": check_model_roundtrip,
}


def yield_checks(spec: ComponentSpec) -> Iterator[tuple[str, Callable[[], None]]]:
    for name in CHECKS:
        yield name, (lambda name=name: CHECK_FUNCTIONS[name](spec))  # type: ignore[misc]


def run_checks(spec: ComponentSpec) -> dict[str, str | None]:
    """Every check on one component: check name -> None (passed) or the failure message."""
    results: dict[str, str | None] = {}
    for name, check in yield_checks(spec):
        try:
            check()
            results[name] = None
        except Exception as error:
            results[name] = str(error)
    return results


def parametrize_with_checks(components: Iterable[str | ComponentSpec] | None = None) -> Any:
    """A pytest decorator giving ``(component_id, check)`` for each component and check."""
    import pytest

    specs = [registry.get(item) if isinstance(item, str) else item for item in (components or registry.all())]
    cases = []
    for spec in specs:
        for name, check in yield_checks(spec):
            marks = []
            reason = EXPECTED_FAILURES.get((spec.id, name))
            if reason:
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            cases.append(pytest.param(spec.id, check, id=f"{spec.id}-{name}", marks=marks))
    return pytest.mark.parametrize(("component_id", "check"), cases)


__all__ = [
    "CHECKS",
    "EXPECTED_FAILURES",
    "ConformanceError",
    "check_bad_params",
    "check_deterministic",
    "check_docs",
    "check_empty_input",
    "check_model_roundtrip",
    "check_runs",
    "check_schema",
    "parametrize_with_checks",
    "run_checks",
    "sample_call",
    "sample_kind",
    "yield_checks",
]
