"""How each port type is written to and read from the artifact store."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tidal.core._ports import Figure, LazyTable, Metrics, to_jsonable
from tidal.models import ModelPackage

SUFFIXES = {"Table": ".parquet", "Model": ".model.zip", "Metrics": ".metrics.json", "Figure": ".vl.json"}


def as_arrow(value: Any) -> pa.Table:
    if isinstance(value, pa.Table):
        return value
    frame = value
    if not all(isinstance(name, str) for name in frame.columns):
        frame = frame.rename(columns=str)
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Snappy Parquet; dictionary encoding only where it pays (not for floating-point columns,
    where it costs a second pass and rarely shrinks anything)."""
    dictionary = [field.name for field in table.schema if not pa.types.is_floating(field.type)]
    pq.write_table(table, path, compression="snappy", use_dictionary=dictionary or False)


def write_parts(table: LazyTable, path: Path) -> None:
    """A table split across files, stored as one file that keeps each file's row groups as its own.

    Row groups are the partitions a data step runs on (``components/_partitioned``), so a pipeline
    that reads a folder keeps it split for the steps after it. One row group is in memory at a time.
    """
    schema = table.schema
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for file in table.files:
            parquet = pq.ParquetFile(file)
            for index in range(parquet.metadata.num_row_groups):
                group = parquet.read_row_group(index)
                if group.num_rows:
                    writer.write_table(group.cast(schema), row_group_size=group.num_rows)


def write_value(value: Any, port_type: str, staging: Path) -> tuple[Path, str, dict[str, Any]]:
    """Write ``value`` into a new file under ``staging``; returns (path, suffix, metadata)."""
    suffix = SUFFIXES[port_type]
    path = staging / f"{uuid.uuid4().hex}{suffix}"
    meta: dict[str, Any]
    if port_type == "Table":
        if isinstance(value, LazyTable) and len(value.files) > 1:
            schema, rows = value.schema, value.num_rows
            write_parts(value, path)
        elif isinstance(value, LazyTable):
            schema, rows = value.schema, value.num_rows
            if value.owned:
                shutil.move(value.path, path)
            else:
                shutil.copyfile(value.path, path)
        else:
            table = as_arrow(value)
            write_parquet(table, path)
            schema, rows = table.schema, table.num_rows
        meta = {"rows": rows, "columns": [{"name": item.name, "type": str(item.type)} for item in schema]}
    elif port_type == "Model":
        value.save_archive(path)
        meta = {"flavor": value.flavor, "task": value.task, "features": len(value.features)}
    elif port_type == "Metrics":
        payload = to_jsonable(value.to_json())
        path.write_text(json.dumps(payload, sort_keys=True))
        meta = {"metrics": payload["metrics"], "figures": sorted(payload["figures"])}
    elif port_type == "Figure":
        path.write_text(json.dumps(to_jsonable(dict(value)), sort_keys=True))
        meta = {}
    else:
        raise TypeError(f"unknown port type {port_type}")
    return path, suffix, meta


def read_value(path: Path, port_type: str, trust: bool = False) -> Any:
    if port_type == "Table":
        return LazyTable(str(path))
    if port_type == "Model":
        return ModelPackage.load(path, trust=trust)
    if port_type == "Metrics":
        return Metrics.from_json(json.loads(path.read_text()))
    if port_type == "Figure":
        return Figure(json.loads(path.read_text()))
    raise TypeError(f"unknown port type {port_type}")


def preview(path: Path, port_type: str, rows: int = 20, offset: int = 0) -> dict[str, Any]:
    """A small JSON-ready view of an artifact, for the CLI and the Studio."""
    if port_type == "Table":
        table = LazyTable(str(path))
        import duckdb

        con = duckdb.connect()
        frame: pd.DataFrame = con.sql(
            f"SELECT * FROM read_parquet('{_sql_string(str(path))}') LIMIT {int(rows)} OFFSET {int(offset)}"
        ).df()
        return {
            "type": "Table",
            "rows": table.num_rows,
            "columns": [{"name": item.name, "type": str(item.type)} for item in table.schema],
            "data": json.loads(frame.to_json(orient="records", date_format="iso")),
            "offset": offset,
        }
    if port_type == "Model":
        return {"type": "Model", "summary": ModelPackage.load(path, trust=False).summary()}
    if port_type == "Metrics":
        return {"type": "Metrics", **json.loads(path.read_text())}
    return {"type": "Figure", "spec": json.loads(path.read_text())}


def _sql_string(text: str) -> str:
    return text.replace("'", "''")
