"""Data in and out: CSV, Parquet, JSON Lines and Excel files.

Readers of CSV, Parquet and JSON Lines stream through DuckDB into a :class:`LazyTable`, so a file
larger than memory can be read; writers stream from one. Databases live in :mod:`io_db`, bundled
and generated datasets in :mod:`io_datasets`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tidal.components._sql import connect, fetch, literal, quote, scan, to_lazy
from tidal.core import DataError, InputFile, LazyTable, Metrics, OutputFile, Param, component

#: encodings DuckDB's CSV reader decodes itself; others go through pyarrow's transcoder
_DUCKDB_ENCODINGS = {"utf8": "utf-8", "utf-8": "utf-8", "utf16": "utf-16", "utf-16": "utf-16", "latin1": "latin-1", "latin-1": "latin-1", "iso-8859-1": "latin-1"}
#: Excel's sheet size, header row included
_EXCEL_ROWS = 1_048_576


def existing_file(path: str, param: str = "path") -> Path:
    """The file or folder at ``path``, or a :class:`DataError` that says where Tidal looked."""
    file = Path(os.path.expanduser(path))
    if not file.exists():
        raise DataError(f"parameter '{param}': file {path} does not exist (looked in {file.resolve().parent})")
    return file.resolve()


def output_file(path: str) -> tuple[Path, Path]:
    """The target path (folders created) and a hidden partial file beside it to write first."""
    target = Path(os.path.expanduser(path)).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    return target, target.with_name(f".{target.stem}.partial{target.suffix}")


def written(target: Path, partial: Path, rows: int, columns: int) -> Metrics:
    """Move the finished file into place and report it."""
    os.replace(partial, target)
    return Metrics({"rows": int(rows), "columns": int(columns), "path": str(target)})


@component("io.read_csv", title="Read CSV", tags={"source": True, "sample": "mixed"})
def read_csv(
    *,
    path: Annotated[InputFile, Param(help="CSV file; relative paths start at the workspace")],
    delimiter: Annotated[str, Param(help="field separator")] = ",",
    header: Annotated[bool, Param(help="the first row holds column names")] = True,
    encoding: str = "utf8",
) -> LazyTable:
    """Read a CSV file into a table, streaming it through DuckDB (types are inferred).

    The file is never loaded whole into memory. Without a header, columns are named
    ``column0``, ``column1`` ...

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "people.csv")
    >>> pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Lima"]}).to_csv(path, index=False)
    >>> table = read_csv(path=path)
    >>> table.num_rows, table.columns
    (2, ['age', 'city'])
    """
    file = existing_file(path)
    if len(delimiter) != 1:
        raise DataError(f"parameter 'delimiter' must be one character, got {delimiter!r}")
    codec = _DUCKDB_ENCODINGS.get(encoding.lower().replace("_", "-"))
    if codec is None:
        return _read_csv_transcoded(file, delimiter, header, encoding)
    options = f"delim = {literal(delimiter)}, header = {str(header).lower()}, encoding = {literal(codec)}"
    return to_lazy(
        connect(read=[file]),
        f"SELECT * FROM read_csv({literal(str(file))}, {options})",
        what=f"cannot read {path} as CSV (check 'delimiter', 'header' and 'encoding')",
    )


def _read_csv_transcoded(file: Path, delimiter: str, header: bool, encoding: str) -> LazyTable:
    """CSV in an encoding DuckDB does not decode: pyarrow transcodes it, batch by batch."""
    import tempfile

    try:
        reader = pacsv.open_csv(
            file,
            read_options=pacsv.ReadOptions(encoding=encoding, autogenerate_column_names=not header),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
        )
    except LookupError:
        raise DataError(f"parameter 'encoding': unknown encoding {encoding!r} (for example utf8, latin1, gbk)") from None
    except pa.ArrowInvalid as error:
        raise DataError(f"cannot read {file} as CSV: {error}") from None
    handle = tempfile.NamedTemporaryFile(prefix="tidal-", suffix=".parquet", delete=False)
    handle.close()
    try:
        with pq.ParquetWriter(handle.name, reader.schema, compression="snappy") as writer:
            for batch in reader:
                writer.write_batch(batch)
    except pa.ArrowInvalid as error:
        os.unlink(handle.name)
        raise DataError(f"cannot read {file} as CSV: {error}") from None
    return LazyTable(handle.name, owned=True)


@component("io.write_csv", title="Write CSV", side_effects=True, tags={"sink": True})
def write_csv(
    data: LazyTable,
    *,
    path: Annotated[OutputFile, Param(help="where to write; relative paths start at the workspace")],
    delimiter: str = ",",
    header: bool = True,
) -> Metrics:
    """Write a table to a CSV file (replacing it atomically) and report what was written.

    Rows stream batch by batch, so the table never has to fit in memory.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> write_csv(pd.DataFrame({"a": [1, 2, 3]}), path=path)["rows"]
    3
    """
    if len(delimiter) != 1:
        raise DataError(f"parameter 'delimiter' must be one character, got {delimiter!r}")
    target, partial = output_file(path)
    schema = data.schema
    options = pacsv.WriteOptions(include_header=header, delimiter=delimiter)
    try:
        with pacsv.CSVWriter(partial, schema, write_options=options) as writer:
            for file in data.files:
                for batch in pq.ParquetFile(file).iter_batches():
                    writer.write_batch(batch)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot write this table as CSV: {error} (nested columns need io.write_jsonl or io.write_parquet)") from None
    return written(target, partial, data.num_rows, len(schema))


@component("io.read_parquet", title="Read Parquet", tags={"source": True, "sample": "mixed", "file_format": "parquet"})
def read_parquet(
    *,
    path: Annotated[InputFile, Param(help="a Parquet file, or a folder of .parquet files read as one table")],
    columns: Annotated[list[str] | None, Param(help="read only these columns; empty reads all")] = None,
) -> LazyTable:
    """Read a Parquet file (or a folder of them) as a table queried in place, without loading it.

    A single file read whole is used as it is, with no copy, and so is a folder whose files share
    their columns and types: the table stays split across them, in file name order, and a data
    step on the Ray executor runs on each part (see docs/ray.md). Picking columns, or a folder
    whose files differ, streams the rows through DuckDB into one new file, columns matched by name.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "points.parquet")
    >>> pd.DataFrame({"x": [1.5, 2.5], "y": [3, 4]}).to_parquet(path)
    >>> read_parquet(path=path, columns=["y"]).to_pandas()["y"].tolist()
    [3, 4]
    """
    file = existing_file(path)
    if file.is_dir():
        if not any(file.glob("*.parquet")):
            raise DataError(f"parameter 'path': folder {path} holds no .parquet files")
        if not columns and _same_schemas(file):
            return LazyTable(str(file))  # the files stay as they are: one table split across them
        source = f"read_parquet({literal(str(file / '*.parquet'))}, union_by_name = true)"
        con = connect(folders=[file])
    else:
        try:
            schema = pq.read_schema(file)
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(f"parameter 'path': {path} is not a Parquet file ({error})") from None
        if not columns:
            return LazyTable(str(file))
        absent = [name for name in columns if name not in schema.names]
        if absent:
            raise DataError(f"parameter 'columns': {', '.join(map(repr, absent))} not in {path} (columns: {', '.join(schema.names)})")
        source = f"read_parquet({literal(str(file))})"
        con = connect(read=[file])
    picked = ", ".join(quote(name) for name in columns) if columns else "*"
    return to_lazy(con, f"SELECT {picked} FROM {source}", what=f"cannot read {path} as Parquet")


def _same_schemas(folder: Path) -> bool:
    """Whether a folder's Parquet files agree on columns and types (else they are read by name into one file)."""
    try:
        LazyTable(str(folder)).schema  # noqa: B018 -- raises when the files disagree
    except DataError:
        return False
    return True


@component("io.write_parquet", title="Write Parquet", side_effects=True, tags={"sink": True})
def write_parquet(
    data: LazyTable,
    *,
    path: Annotated[OutputFile, Param(help="where to write; relative paths start at the workspace")],
    compression: Literal["snappy", "zstd", "gzip", "none"] = "snappy",
) -> Metrics:
    """Write a table to a Parquet file (replacing it atomically), streaming through DuckDB.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "out.parquet")
    >>> write_parquet(pd.DataFrame({"a": [1, 2]}), path=path, compression="zstd")["rows"]
    2
    """
    target, partial = output_file(path)
    codec = "uncompressed" if compression == "none" else compression
    fetch(connect(data, write=[partial]), f"COPY (SELECT * FROM {scan(data)}) TO {literal(str(partial))} (FORMAT parquet, COMPRESSION {codec})", what=f"cannot write {path}")
    return written(target, partial, data.num_rows, len(data.columns))


@component("io.read_jsonl", title="Read JSON Lines", tags={"source": True, "sample": "mixed", "file_format": "jsonl"})
def read_jsonl(
    *,
    path: Annotated[InputFile, Param(help="a JSON Lines file: one JSON object per line")],
) -> LazyTable:
    """Read a JSON Lines file (one object per line) into a table, streaming through DuckDB.

    Keys become columns; nested objects and lists stay nested (structs and lists).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "events.jsonl")
    >>> _ = open(path, "w").write('{"user": "ann", "clicks": 3}\\n{"user": "bob", "clicks": 5}\\n')
    >>> read_jsonl(path=path).to_pandas()["clicks"].sum()
    np.int64(8)
    """
    file = existing_file(path)
    return to_lazy(
        connect(read=[file]),
        f"SELECT * FROM read_json({literal(str(file))}, format = 'newline_delimited')",
        what=f"cannot read {path} as JSON Lines (one JSON object per line)",
    )


@component("io.write_jsonl", title="Write JSON Lines", side_effects=True, tags={"sink": True})
def write_jsonl(
    data: LazyTable,
    *,
    path: Annotated[OutputFile, Param(help="where to write; relative paths start at the workspace")],
) -> Metrics:
    """Write a table as JSON Lines, one object per row (replacing the file atomically).

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "out.jsonl")
    >>> write_jsonl(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), path=path)["rows"]
    2
    >>> open(path).readline().strip()
    '{"a":1,"b":"x"}'
    """
    target, partial = output_file(path)
    fetch(connect(data, write=[partial]), f"COPY (SELECT * FROM {scan(data)}) TO {literal(str(partial))} (FORMAT json)", what=f"cannot write {path}")
    return written(target, partial, data.num_rows, len(data.columns))


@component("io.read_excel", title="Read Excel", tags={"source": True, "sample": "mixed", "file_format": "xlsx"})
def read_excel(
    *,
    path: Annotated[InputFile, Param(help="an .xlsx workbook")],
    sheet: Annotated[str | None, Param(help="sheet name; empty reads the first sheet")] = None,
    header: Annotated[bool, Param(help="the first row holds column names")] = True,
    skip_rows: Annotated[int, Param(ge=0, help="rows to skip at the top of the sheet")] = 0,
) -> pd.DataFrame:
    """Read one sheet of an Excel workbook (.xlsx, with openpyxl) into a table.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "book.xlsx")
    >>> pd.DataFrame({"item": ["pen", "ink"], "price": [2.5, 4.0]}).to_excel(path, index=False)
    >>> read_excel(path=path)["price"].tolist()
    [2.5, 4.0]
    """
    import openpyxl  # noqa: F401  (pandas needs it for .xlsx; fail here with a clear message)

    file = existing_file(path)
    try:
        with pd.ExcelFile(file, engine="openpyxl") as book:
            name = sheet if sheet is not None else book.sheet_names[0]
            if name not in book.sheet_names:
                raise DataError(f"parameter 'sheet': no sheet {name!r} in {path} (sheets: {', '.join(book.sheet_names)})")
            frame = pd.read_excel(book, sheet_name=name, header=0 if header else None, skiprows=skip_rows)
    except (ValueError, OSError, KeyError) as error:
        raise DataError(f"cannot read {path} as an Excel workbook: {error}") from None
    if not header:
        frame.columns = [f"column{index}" for index in range(frame.shape[1])]
    frame.columns = [str(name) for name in frame.columns]
    return frame


@component("io.write_excel", title="Write Excel", side_effects=True, tags={"sink": True})
def write_excel(
    data: pd.DataFrame,
    *,
    path: Annotated[OutputFile, Param(help="an .xlsx file to write; relative paths start at the workspace")],
    sheet: Annotated[str, Param(help="sheet name (at most 31 characters)")] = "data",
) -> Metrics:
    """Write a table to one sheet of a new Excel workbook (.xlsx, with openpyxl).

    Excel holds at most 1,048,575 rows in a sheet; time zones are converted to UTC and dropped,
    since Excel has none.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "book.xlsx")
    >>> write_excel(pd.DataFrame({"a": [1, 2, 3]}), path=path)["rows"]
    3
    """
    import openpyxl  # noqa: F401

    if len(data) >= _EXCEL_ROWS:
        raise DataError(f"input 'data' has {len(data):,} rows; an Excel sheet holds at most {_EXCEL_ROWS - 1:,} (write CSV or Parquet instead)")
    if not 0 < len(sheet) <= 31 or any(char in sheet for char in "[]:*?/\\"):
        raise DataError(f"parameter 'sheet': {sheet!r} is not a valid sheet name (1-31 characters, none of []:*?/\\)")
    frame = data.copy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
    target, partial = output_file(path)
    frame.to_excel(partial, sheet_name=sheet, index=False, engine="openpyxl")
    return written(target, partial, len(frame), frame.shape[1])
