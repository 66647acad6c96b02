"""The Studio's column statistics (DuckDB over the Parquet file) against pandas doing the same.

Per column: count, nulls, distinct, min, max and mean, on a generated table (floats with nulls,
integers, low- and high-cardinality strings). Each way runs ``--repeats`` times, interleaved so
that load on the shared machine hits both alike; medians and the ratio are reported, with the
peak resident memory each way adds.

* tidal: ``tidal.studio._stats.column_stats(path)``, one DuckDB scan of the file;
* pandas: ``pd.read_parquet(path)`` then ``count``, ``isna().sum()``, ``nunique``, ``min``,
  ``max``, ``mean`` per column (what a notebook would write).

    .venv/bin/python benchmarks/studio_stats.py [--rows 2000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WAYS = {
    "tidal": "from tidal.studio._stats import column_stats; column_stats(PATH)",
    "pandas": (
        "import pandas as pd\n"
        "frame = pd.read_parquet(PATH)\n"
        "for name in frame.columns:\n"
        "    column = frame[name]\n"
        "    numeric = pd.api.types.is_numeric_dtype(column)\n"
        "    column.count(); column.isna().sum(); column.nunique(); column.min(); column.max()\n"
        "    if numeric: column.mean()\n"
    ),
}


def make_table(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(6)})
    frame.loc[rng.random(rows) < 0.05, "f0"] = np.nan
    frame["i0"] = rng.integers(0, 1000, rows)
    frame["i1"] = rng.integers(0, 10**9, rows)
    frame["city"] = rng.choice(["paris", "lyon", "hangzhou", "beijing", "austin"], rows)
    frame["user"] = pd.Series(rng.integers(0, rows // 2, rows)).map("u{:08d}".format)
    frame.to_parquet(path)


def one(way: str, path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one way, in a fresh interpreter (imports not counted)."""
    code = (
        "import resource, time\n"
        f"PATH = {str(path)!r}\n"
        "import duckdb, pandas, pyarrow.parquet\n"
        "start = time.perf_counter()\n"
        f"{WAYS[way]}\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, peak = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.parquet"
        make_table(path, args.rows)
        size = path.stat().st_size / 2**20
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        peaks: dict[str, list[float]] = {way: [] for way in WAYS}
        for _ in range(args.repeats):
            for way in WAYS:
                seconds, peak = one(way, path)
                times[way].append(seconds)
                peaks[way].append(peak)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"# Studio column statistics: {args.rows:,} rows x 10 columns ({size:.0f} MiB Parquet), {machine}")
    print(f"# median of {args.repeats}, interleaved, each in a fresh interpreter")
    print("| way | median s | min s | peak RSS MiB |")
    print("| --- | --- | --- | --- |")
    for way in WAYS:
        print(f"| {way} | {statistics.median(times[way]):.3f} | {min(times[way]):.3f} | {statistics.median(peaks[way]):.0f} |")
    ratio = statistics.median(times["pandas"]) / statistics.median(times["tidal"])
    print(f"\npandas / tidal time: {ratio:.2f}x")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")
