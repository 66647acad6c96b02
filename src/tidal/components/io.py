"""Data in and out: files, databases, bundled datasets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.csv as pacsv

from tidal.core import DataError, InputFile, Metrics, OutputFile, Param, component


@component("io.read_csv", title="Read CSV", tags={"source": True, "sample": "mixed"})
def read_csv(
    *,
    path: Annotated[InputFile, Param(help="CSV file; relative paths start at the workspace")],
    delimiter: Annotated[str, Param(help="field separator")] = ",",
    header: Annotated[bool, Param(help="the first row holds column names")] = True,
    encoding: str = "utf8",
) -> pa.Table:
    """Read a CSV file into a table (multi-threaded, with type inference).

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "people.csv")
    >>> pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Lima"]}).to_csv(path, index=False)
    >>> table = read_csv(path=path)
    >>> table.num_rows, table.column_names
    (2, ['age', 'city'])
    """
    file = Path(os.path.expanduser(path))
    if not file.exists():
        raise DataError(f"parameter 'path': file {path} does not exist (looked in {file.resolve().parent})")
    if len(delimiter) != 1:
        raise DataError(f"parameter 'delimiter' must be one character, got {delimiter!r}")
    try:
        return pacsv.read_csv(
            file,
            read_options=pacsv.ReadOptions(encoding=encoding, autogenerate_column_names=not header),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
        )
    except pa.ArrowInvalid as error:
        raise DataError(f"cannot read {path} as CSV: {error}") from None


@component("io.write_csv", title="Write CSV", side_effects=True, tags={"sink": True})
def write_csv(
    data: pa.Table,
    *,
    path: Annotated[OutputFile, Param(help="where to write; relative paths start at the workspace")],
    delimiter: str = ",",
    header: bool = True,
) -> Metrics:
    """Write a table to a CSV file (replacing it atomically) and report what was written.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> write_csv(pd.DataFrame({"a": [1, 2, 3]}), path=path)["rows"]
    3
    """
    target = Path(os.path.expanduser(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    pacsv.write_csv(
        data, partial, write_options=pacsv.WriteOptions(include_header=header, delimiter=delimiter)
    )
    os.replace(partial, target)
    return Metrics({"rows": data.num_rows, "columns": data.num_columns, "path": str(target)})
