"""Port types: what flows along the edges of a pipeline.

A port has a *type* (``Table``, ``Model``, ``Metrics``, ``Figure``) and, for tables, a *delivery*:
the Python annotation of the component's parameter decides whether the table arrives as a pandas
DataFrame, a pyarrow Table, or a :class:`LazyTable` that DuckDB queries in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from tidal.core._display import Displayable

PORT_TYPES = ("Table", "Model", "Metrics", "Figure")

#: classes whose instances travel on Model ports; the models layer registers its package class
#: here (the core cannot import it), see :func:`register_model_class`
MODEL_CLASSES: list[type] = []


def register_model_class(cls: type) -> None:
    if cls not in MODEL_CLASSES:
        MODEL_CLASSES.append(cls)


class Table:
    """Annotation marker for a table port delivered as a pandas DataFrame.

    ``data: Table`` and ``data: pd.DataFrame`` mean the same thing; use ``pa.Table`` for Arrow and
    :class:`LazyTable` for out-of-core access through DuckDB.
    """


class Metrics(Displayable, dict):  # type: ignore[type-arg]
    """Scalar results (name -> number or string) plus optional Vega-Lite figures and small tables.

    Behaves as a dict of the scalars; ``figures`` holds named Vega-Lite specs and ``tables`` small
    row lists (confusion matrices, per-class reports).
    """

    def __init__(
        self,
        values: dict[str, Any] | None = None,
        *,
        figures: dict[str, dict[str, Any]] | None = None,
        tables: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__(values or {})
        self.figures: dict[str, dict[str, Any]] = dict(figures or {})
        self.tables: dict[str, list[dict[str, Any]]] = dict(tables or {})

    def to_json(self) -> dict[str, Any]:
        return {"metrics": dict(self), "figures": self.figures, "tables": self.tables}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Metrics:
        return cls(payload.get("metrics", {}), figures=payload.get("figures"), tables=payload.get("tables"))

    def __repr__(self) -> str:
        extra = f", figures={sorted(self.figures)}" if self.figures else ""
        return f"Metrics({dict.__repr__(self)}{extra})"


class Figure(Displayable, dict):  # type: ignore[type-arg]
    """A Vega-Lite specification (a plain JSON dict)."""

    def to_json(self) -> dict[str, Any]:
        return dict(self)


@dataclass(frozen=True)
class LazyTable(Displayable):
    """A table stored as Parquet, queried in place with DuckDB instead of loaded into memory.

    ``path`` is one Parquet file, or a folder whose ``*.parquet`` files, sorted by name, hold the
    table's rows in that order (a table split across files; every file needs the same columns and
    types). ``relation()`` gives a DuckDB relation over it; ``sql(query)`` runs SQL where the table
    is called ``data``; ``to_pandas()`` / ``to_arrow()`` load it when that is what you need.
    """

    path: str
    #: True when the file is a scratch file this table owns: storing it then moves instead of copying, and the
    #: file is deleted when the table is (a table stored in a run has moved it away by then)
    owned: bool = False

    def __post_init__(self) -> None:
        if self.owned:
            weakref.finalize(self, _remove_scratch, self.path)

    def __reduce__(self) -> tuple[Any, ...]:
        """A copy (``copy.copy``, or a pickle sent to another process) reads the file but never owns it."""
        return (type(self), (self.path, False))

    @classmethod
    def from_relation(cls, relation: Any) -> LazyTable:
        """Materialize a DuckDB relation (or SQL result) into a scratch Parquet file, streaming."""
        import tempfile

        handle = tempfile.NamedTemporaryFile(prefix="tidal-", suffix=".parquet", delete=False)
        handle.close()
        relation.write_parquet(handle.name, compression="snappy")
        return cls(handle.name, owned=True)

    @classmethod
    def from_sql(cls, connection: Any, query: str) -> LazyTable:
        """Run ``query`` on ``connection`` and stream its result to a scratch Parquet file."""
        import tempfile

        handle = tempfile.NamedTemporaryFile(prefix="tidal-", suffix=".parquet", delete=False)
        handle.close()
        escaped = handle.name.replace("'", "''")
        connection.execute(f"COPY ({query}) TO '{escaped}' (FORMAT parquet, COMPRESSION snappy)")
        return cls(handle.name, owned=True)

    @property
    def files(self) -> list[str]:
        """The Parquet files holding the rows, in row order: the file itself, or the folder's files sorted by name."""
        if not os.path.isdir(self.path):
            return [self.path]
        found = sorted(str(item) for item in Path(self.path).glob("*.parquet") if item.is_file())
        if not found:
            from tidal.core._errors import DataError

            raise DataError(f"table folder {self.path} holds no .parquet files; put the table's parts there as *.parquet")
        return found

    def relation(self, connection: Any = None) -> Any:
        import duckdb

        con = connection if connection is not None else duckdb.connect()
        files = self.files
        return con.read_parquet(files if len(files) > 1 else files[0])

    def sql(self, query: str, connection: Any = None) -> Any:
        import duckdb

        con = connection if connection is not None else duckdb.connect()
        con.register("data", self.relation(con))
        return con.sql(query)

    @property
    def schema(self) -> pa.Schema:
        """The table's schema; for a folder, the first file's, after checking that every file has the same columns and types."""
        import pyarrow.parquet as pq

        files = self.files
        if len(files) == 1:
            return pq.read_schema(files[0])
        schema = _read_schema(files[0])
        for file in files[1:]:
            _check_same_schema(self.path, files[0], schema, file, _read_schema(file))
        return schema

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def num_rows(self) -> int:
        import pyarrow.parquet as pq

        return sum(int(pq.ParquetFile(file).metadata.num_rows) for file in self.files)

    def to_arrow(self) -> pa.Table:
        import pyarrow.parquet as pq

        files = self.files
        if len(files) == 1:
            return pq.read_table(files[0])
        schema = self.schema
        return pa.concat_tables([pq.read_table(file).cast(schema) for file in files])

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()


def _read_schema(file: str) -> pa.Schema:
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(file)
    except (pa.ArrowInvalid, OSError) as error:
        from tidal.core._errors import DataError

        raise DataError(f"file {file} is not a readable Parquet file ({error}); remove it or write it again") from None


def _check_same_schema(folder: str, first: str, expected: pa.Schema, file: str, found: pa.Schema) -> None:
    """A folder's files must agree on column names, order and types; else say which file and column differ."""
    from tidal.core._errors import DataError

    if [(item.name, item.type) for item in found] == [(item.name, item.type) for item in expected]:
        return
    name, other = os.path.basename(file), os.path.basename(first)
    hint = f"every file of the table folder {folder} needs the same columns, in the same order, with the same types; rewrite {name} or move it out"
    for field in expected:
        if field.name not in found.names:
            raise DataError(f"file {name}: column '{field.name}' is missing ({other} has it as {field.type}); {hint}")
    for field in found:
        if field.name not in expected.names:
            raise DataError(f"file {name}: column '{field.name}' is not in {other}; {hint}")
        if field.type != expected.field(field.name).type:
            raise DataError(f"file {name}: column '{field.name}' is {field.type}, but {expected.field(field.name).type} in {other}; {hint}")
    raise DataError(f"file {name}: its columns come in another order than in {other} ({', '.join(found.names)}); {hint}")


def resolve_annotation(annotation: Any) -> tuple[str, str] | None:
    """Map a Python annotation to ``(port_type, delivery)``; None if it is not a port."""
    if annotation is Table or annotation is pd.DataFrame:
        return ("Table", "pandas")
    if annotation is pa.Table:
        return ("Table", "arrow")
    if annotation is LazyTable:
        return ("Table", "lazy")
    if annotation in MODEL_CLASSES:
        return ("Model", "model")
    if annotation is Metrics:
        return ("Metrics", "metrics")
    if annotation is Figure:
        return ("Figure", "figure")
    return None


def port_type_of_value(value: Any) -> str | None:
    """The port type a runtime value belongs to."""
    if isinstance(value, (pd.DataFrame, pa.Table, LazyTable)):
        return "Table"
    if isinstance(value, tuple(MODEL_CLASSES)):
        return "Model"
    if isinstance(value, Metrics):
        return "Metrics"
    if isinstance(value, Figure):
        return "Figure"
    return None


def deliver_table(value: Any, delivery: str) -> Any:
    """Convert any table value into the form a component asked for."""
    if delivery == "pandas":
        if isinstance(value, pd.DataFrame):
            return value
        if isinstance(value, pa.Table):
            return value.to_pandas()
        if isinstance(value, LazyTable):
            return value.to_pandas()
    elif delivery == "arrow":
        if isinstance(value, pa.Table):
            return value
        if isinstance(value, pd.DataFrame):
            return pa.Table.from_pandas(value, preserve_index=False)
        if isinstance(value, LazyTable):
            return value.to_arrow()
    elif delivery == "lazy":
        if isinstance(value, LazyTable):
            return value
        if isinstance(value, (pd.DataFrame, pa.Table)):
            return _spill_to_parquet(value)
    raise TypeError(f"cannot deliver {type(value).__name__} as a {delivery} table")


def _remove_scratch(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _spill_to_parquet(value: pd.DataFrame | pa.Table) -> LazyTable:
    import tempfile

    import pyarrow.parquet as pq

    table = value if isinstance(value, pa.Table) else pa.Table.from_pandas(value, preserve_index=False)
    handle = tempfile.NamedTemporaryFile(prefix="tidal-", suffix=".parquet", delete=False)
    handle.close()
    pq.write_table(table, handle.name)
    return LazyTable(handle.name, owned=True)


def to_jsonable(value: Any) -> Any:
    """Make numpy scalars and similar plain for JSON."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
