"""Data steps on a table split across Parquet files: Tidal's partitions as Ray tasks against Ray Data
doing the same work, and one local DuckDB query, on the same Ray and the same files.

    nice -n 10 python benchmarks/ray_executor/data_steps.py [--files 8] [--rows 250000] [--repeats 3]

Two steps: a filter (``x > 0``, a row-local step) and a group-by (``sum`` and ``max`` of ``n`` per ``k``,
which Tidal runs as partial aggregates merged by a final query). Each variant ends with the whole
result in this process as an Arrow table (Tidal's step writes its Parquet output; Ray Data's result is
collected with ``to_arrow_refs``), and every variant's result is checked against the local query's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from bench import machine  # noqa: E402 - after the path


def write_files(folder: Path, files: int, rows: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(files):
        frame = pd.DataFrame({"id": np.arange(index * rows, (index + 1) * rows), "x": rng.normal(size=rows),
                              "n": rng.integers(0, 1000, rows), "k": rng.choice(list("abcdefghij"), rows)})
        frame.to_parquet(folder / f"part-{index:03d}.parquet", index=False)


def tidal_steps(folder: Path) -> tuple[pa.Table, pa.Table]:
    """The same two steps, their partitions run as Ray tasks."""
    from tidal.runtime import ray_data_steps

    with ray_data_steps():
        return local_steps(folder)


def local_steps(folder: Path) -> tuple[pa.Table, pa.Table]:
    from tidal.components.data_reshape import group_by
    from tidal.components.data_rows import filter_rows
    from tidal.core import LazyTable

    kept = filter_rows(LazyTable(str(folder)), where="x > 0").to_arrow()
    totals = group_by(LazyTable(str(folder)), keys=["k"], aggregations={"n": ["sum", "max"]}, count_column=None)
    return kept, totals.to_arrow()


def ray_data_steps_peer(folder: Path) -> tuple[pa.Table, pa.Table]:
    import ray

    files = sorted(str(path) for path in folder.glob("*.parquet"))
    kept_refs = ray.data.read_parquet(files).filter(expr="x > 0").to_arrow_refs()
    kept = pa.concat_tables(ray.get(kept_refs))
    grouped = ray.data.read_parquet(files).groupby("k").aggregate(ray.data.aggregate.Sum("n"), ray.data.aggregate.Max("n"))
    totals = pa.concat_tables(ray.get(grouped.to_arrow_refs()))
    return kept, totals


def same(ours: tuple[pa.Table, pa.Table], reference: tuple[pa.Table, pa.Table]) -> bool:
    kept, totals = (table.to_pandas() for table in ours)
    want_kept, want_totals = (table.to_pandas() for table in reference)
    kept = kept.sort_values("id").reset_index(drop=True)[list(want_kept.columns)]
    want_kept = want_kept.sort_values("id").reset_index(drop=True)
    totals = totals.sort_values("k").reset_index(drop=True)
    totals.columns = list(want_totals.columns)
    return bool(kept.equals(want_kept) and (totals.astype("int64", errors="ignore").values ==
                                            want_totals.sort_values("k").reset_index(drop=True).values).all())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    import ray

    print(f"machine: {machine()}")
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    print(f"ray {ray.__version__}, {args.cpus} CPUs; {args.files} files x {args.rows:,} rows")
    variants = {"one local DuckDB query": local_steps, "Tidal partitions as Ray tasks": tidal_steps,
                "Ray Data (read_parquet, filter, groupby)": ray_data_steps_peer}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "table"
        folder.mkdir()
        write_files(folder, args.files, args.rows)
        reference = local_steps(folder)
        for name, run in variants.items():  # warm: imports, Ray workers
            assert same(run(folder), reference), f"{name} gave another result"
        for _ in range(args.repeats):
            for name, run in variants.items():
                started = time.perf_counter()
                run(folder)
                times[name].append(time.perf_counter() - started)
    ray.shutdown()
    base = statistics.median(times["one local DuckDB query"])
    print(f"\nfilter + group-by, medians of {args.repeats} interleaved rounds; every result equal to the local query's\n")
    print("| variant | seconds | × local query |")
    print("| --- | ---: | ---: |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {statistics.median(values) / base:.2f} |")
    print(f"\nall rounds (s): { {name: [round(value, 2) for value in values] for name, values in times.items()} }")


if __name__ == "__main__":
    main()
