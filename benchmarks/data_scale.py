"""Filter -> join -> group-by on a large Parquet table: Tidal's out-of-core components vs pandas.

Each engine runs in its own child process, so peak memory (the child's ``ru_maxrss``) is
measured fairly; runs alternate between the engines and the script reports medians.

    .venv/bin/python benchmarks/data_scale.py                 # 20M rows, 3 runs each
    .venv/bin/python benchmarks/data_scale.py --rows 2000000 --runs 1

The Tidal side calls the components eagerly (``data.filter``, ``data.join``, ``data.group_by``)
with LazyTable inputs, exactly as a pipeline node would run them; the pandas side is the same
work written the usual way (``read_parquet``, boolean mask, ``merge``, ``groupby.agg``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEYS = 100_000
CATEGORIES = [f"category_{index:02d}" for index in range(20)]
REGIONS = [f"region_{index:02d}" for index in range(50)]
WHERE = "value > 0 AND category <> 'category_00'"
GROUP_KEYS = ["region", "category"]


def generate(folder: Path, rows: int, seed: int = 7) -> tuple[Path, Path]:
    """Write the fact table (id, key, value, category) and the dimension table (key, region, weight)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    fact, dimension = folder / f"fact_{rows}.parquet", folder / "dimension.parquet"
    rng = np.random.default_rng(seed)
    if not fact.exists():
        schema = pa.schema([("id", pa.int64()), ("key", pa.int64()), ("value", pa.float64()), ("category", pa.string())])
        labels = pa.array(CATEGORIES)
        partial = fact.with_suffix(".partial")
        with pq.ParquetWriter(partial, schema, compression="snappy") as writer:
            for start in range(0, rows, 1_000_000):
                size = min(1_000_000, rows - start)
                codes = pa.array(rng.integers(0, len(CATEGORIES), size=size))
                writer.write_table(
                    pa.table(
                        {
                            "id": pa.array(np.arange(start, start + size, dtype="int64")),
                            "key": pa.array(rng.integers(0, KEYS, size=size, dtype="int64")),
                            "value": pa.array(rng.normal(size=size)),
                            "category": labels.take(codes),
                        },
                        schema=schema,
                    )
                )
        partial.rename(fact)
    if not dimension.exists():
        table = pa.table(
            {
                "key": pa.array(np.arange(KEYS, dtype="int64")),
                "region": pa.array(REGIONS).take(pa.array(rng.integers(0, len(REGIONS), size=KEYS))),
                "weight": pa.array(rng.uniform(0.5, 1.5, size=KEYS)),
            }
        )
        pq.write_table(table, dimension)
    return fact, dimension


def run_tidal(fact: Path, dimension: Path, output: Path) -> None:
    from tidal.components.data_combine import join
    from tidal.components.data_reshape import group_by
    from tidal.components.data_rows import filter_rows
    from tidal.components.io import read_parquet

    facts = read_parquet(path=str(fact))
    kept = filter_rows(facts, where=WHERE)
    joined = join(kept, read_parquet(path=str(dimension)), on=["key"])
    result = group_by(joined, keys=GROUP_KEYS, aggregations={"value": ["sum", "mean"], "weight": ["mean"]})
    os.replace(result.path, output)
    for table in (kept, joined):
        os.unlink(table.path)


def run_pandas(fact: Path, dimension: Path, output: Path) -> None:
    import pandas as pd

    facts = pd.read_parquet(fact)
    kept = facts[(facts["value"] > 0) & (facts["category"] != "category_00")]
    joined = kept.merge(pd.read_parquet(dimension), on="key")
    result = (
        joined.groupby(GROUP_KEYS)
        .agg(value_sum=("value", "sum"), value_mean=("value", "mean"), weight_mean=("weight", "mean"), count=("value", "size"))
        .reset_index()
    )
    result.to_parquet(output)


def run_duckdb(fact: Path, dimension: Path, output: Path) -> None:
    """The same work as one SQL statement in DuckDB, with the working memory Tidal gives its steps."""
    import duckdb

    from tidal.components._sql import DEFAULT_MEMORY_MIB, literal

    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{DEFAULT_MEMORY_MIB}MB'")
    connection.execute(
        f"""COPY (
            SELECT region, category, sum(value) AS value_sum, avg(value) AS value_mean, avg(weight) AS weight_mean,
                   count(*) AS count
            FROM read_parquet({literal(str(fact))}) JOIN read_parquet({literal(str(dimension))}) USING (key)
            WHERE {WHERE}
            GROUP BY region, category
        ) TO {literal(str(output))} (FORMAT parquet)"""
    )
    connection.close()


RUNNERS = {"tidal": run_tidal, "pandas": run_pandas, "duckdb": run_duckdb}


def child(engine: str, fact: Path, dimension: Path, output: Path) -> None:
    if engine == "tidal":  # imports are not part of the timing
        import tidal.components.data_combine  # noqa: F401
        import tidal.components.data_reshape  # noqa: F401
        import tidal.components.data_rows  # noqa: F401
        import tidal.components.io  # noqa: F401
    elif engine == "duckdb":
        import duckdb  # noqa: F401

        import tidal.components._sql  # noqa: F401
    else:
        import pandas  # noqa: F401
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    RUNNERS[engine](fact, dimension, output)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    peak_mib = after.ru_maxrss / 1024  # Linux reports KiB
    print(json.dumps({"engine": engine, "seconds": seconds, "cpu_seconds": user + system, "system_seconds": system, "peak_mib": peak_mib}))


def measure(engine: str, fact: Path, dimension: Path, output: Path) -> dict[str, float]:
    os.sync()  # flush the previous run's writes, so this run does not pay for them
    time.sleep(2)
    command = [sys.executable, __file__, "--child", engine, "--fact", str(fact), "--dimension", str(dimension), "--output", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{engine} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_result(tidal_output: Path, pandas_output: Path) -> None:
    import pandas as pd

    ours = pd.read_parquet(tidal_output).sort_values(GROUP_KEYS).reset_index(drop=True)
    theirs = pd.read_parquet(pandas_output).sort_values(GROUP_KEYS).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, check_exact=False, rtol=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "tidal-bench-data-scale")
    parser.add_argument("--child", choices=sorted(RUNNERS))
    parser.add_argument("--fact", type=Path)
    parser.add_argument("--dimension", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.fact, args.dimension, args.output)
        return

    args.folder.mkdir(parents=True, exist_ok=True)
    fact, dimension = generate(args.folder, args.rows)
    print(f"{args.rows:,} rows, {fact.stat().st_size / 2**20:.0f} MiB Parquet; {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    results: dict[str, list[dict[str, float]]] = {"tidal": [], "pandas": [], "duckdb": []}
    outputs = {engine: args.folder / f"result_{engine}.parquet" for engine in results}
    for run in range(args.runs):
        for engine in ("pandas", "duckdb", "tidal") if run % 2 else ("tidal", "duckdb", "pandas"):
            result = measure(engine, fact, dimension, outputs[engine])
            results[engine].append(result)
            print(
                f"  run {run + 1} {engine:6s} {result['seconds']:7.2f} s wall {result['cpu_seconds']:7.2f} s CPU "
                f"({result['system_seconds']:.2f} s system) {result['peak_mib']:8.0f} MiB peak RSS"
            )
    same_result(outputs["tidal"], outputs["pandas"])
    same_result(outputs["duckdb"], outputs["pandas"])
    keys = ("seconds", "cpu_seconds", "peak_mib")
    median = {engine: {key: statistics.median(item[key] for item in runs) for key in keys} for engine, runs in results.items()}
    print(f"\nmedian of {args.runs} run(s); results identical (checked)")
    print("| engine | wall time (s) | CPU time (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for engine in ("pandas", "duckdb", "tidal"):
        print(f"| {engine} | {median[engine]['seconds']:.2f} | {median[engine]['cpu_seconds']:.2f} | {median[engine]['peak_mib']:.0f} |")
    for peer in ("pandas", "duckdb"):
        ratios = [median["tidal"][key] / median[peer][key] for key in keys]
        print(f"| tidal / {peer} | " + " | ".join(f"{ratio:.2f}x" for ratio in ratios) + " |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
