"""The serving benchmark's report: one markdown table (medians, ratios to MLServer), the method, the raw runs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
from pathlib import Path
from typing import Any

METHOD_NOTES = """
Columns: *vs MLServer, same path* divides by MLServer on the same path with the same load
generator; *vs MLServer JSON* divides by MLServer's JSON path under wrk (the usual way it is
called). *client CPU* and *server CPU* are the share of one core the load generator and the server
process used over the saturation run (medians): a client near 1.0 means that row measures the
generator's limit, not the server's; a server well under 1.0 means other jobs took part of its
core. *server CPU us/request* (server CPU seconds over requests answered) is the figure least
moved by such sharing: compare it when the load average was high. *requests per model call*
(Tidal only, from its `/metrics`: `tidal_batch_requests` sum over count during the run) shows how
much its adaptive batching merged.

- The gRPC rows are driven by a Python `grpc.aio` generator (32 requests in flight over one
  channel unless `--grpc-channels` says more, precomputed request bytes, answers not decoded), the HTTP rows by wrk (32 connections);
  `--python-http` adds HTTP rows driven by the same style of Python generator (aiohttp), which is
  the like-for-like comparison with gRPC.
- binary: the request is a JSON header plus the raw little-endian FP32 values
  (`Inference-Header-Content-Length`), with `binary_data_output: true`, so the outputs come back
  raw too. MLServer's v2 REST route parses the body as a JSON `InferenceRequest` only (no
  `Inference-Header-Content-Length` handling in `mlserver/rest`): it answers such a body with
  HTTP 500 (its validation error handler fails to echo the raw bytes back), so it has no binary
  row; it does take raw tensors on gRPC (`raw_input_contents`, answered in `raw_output_contents`).
- grpc: both servers get the same serialized `ModelInferRequest` (values in `raw_input_contents`).
  Tidal serves gRPC from the HTTP server's process and event loop (`--grpc-port`); it runs with
  the gRPC port open on every path, as MLServer always does.
- The FastAPI app is the hand-written JSON baseline: it has no binary or gRPC path.
"""

JSON_NOTES = """
Why the gaps on the JSON path (from the earlier runs; check they still hold):

- 1 row: with 32 connections, Tidal's adaptive batching merges the single-row requests that arrive
  while the model is busy into one LightGBM call (`tidal_batch_requests` in `/metrics` shows it);
  MLServer (batching off by default) and the FastAPI app call the model once per request.
- 64 rows: one request fills a batch, so batching does not help; the gap comes from the per-request
  path (orjson, one numpy matrix straight to the booster) and from LightGBM's
  thread count: Tidal runs the booster with as many threads as the process may use
  (`os.sched_getaffinity`, here 1), while the other two let LightGBM start one OpenMP thread per
  machine core, which on a single pinned core only adds contention (measured in-process on one
  pinned core: 64 rows take about 300 us with one thread and about 700 us with the default).
- p99 on a shared machine is dominated by scheduling stalls from other jobs; read the p99 column
  as noisy when the load average is high, the saturation ratios as the main result.
- BentoML was not measured: it was not tried in the time available.
"""


def machine_info() -> dict[str, Any]:
    """What ``lscpu`` would say about the parts that matter here: the CPU, its vector extensions, cores, memory."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    flag_set = set(flags.group(1).split()) if flags else set()
    return {
        "model": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "virtual": "hypervisor" in flag_set,
        "vector": " ".join(sorted(flag for flag in flag_set if flag.startswith("avx"))) or "no AVX",
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def describe_machine(info: dict[str, Any]) -> str:
    kind = "virtual machine" if info["virtual"] else "bare metal"
    return (f"{info['model']}, {info['cpus']} CPUs ({kind}), {info['memory_gib']} GiB, no GPU; Linux {info['kernel']}; "
            f"Python {info['python']}; vector extensions: {info['vector']}")


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1 / 5 / 15 min)"


def versions(mlserver: str | None) -> dict[str, str]:
    import grpc
    import lightgbm
    import uvicorn

    import tidal

    found = {"tidal": tidal.__version__, "lightgbm": lightgbm.__version__, "uvicorn": uvicorn.__version__,
             "grpcio": grpc.__version__}
    if mlserver:
        answer = subprocess.run([mlserver, "--version"], capture_output=True, text=True).stdout.strip()
        found["mlserver"] = answer.split()[-1] if answer else "?"
        python = Path(mlserver).parent / "python"
        grpc_version = subprocess.run([str(python), "-c", "import grpc; print(grpc.__version__)"],
                                      capture_output=True, text=True).stdout.strip()
        found["mlserver's grpcio"] = grpc_version or "?"
    return found


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else float("nan")


def table(args: argparse.Namespace, sizes: dict[str, Any], saturation: dict[tuple[str, str, str, str], list[dict[str, Any]]],
          latency: dict[tuple[str, str, str], list[dict[str, Any]]], rates: dict[str, float],
          unsupported: dict[tuple[str, str], str], primary_load: dict[str, str]) -> list[str]:
    lines = ["| path | server | body | load | saturation req/s | vs MLServer, same path | vs MLServer JSON | rate req/s "
             "| p50 ms | p99 ms | errors | client CPU | server CPU | server CPU us/request | requests per model call |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        mlserver_json = saturation.get(("json", "mlserver", size, "wrk"))
        json_base = median_of(mlserver_json, "rps") if mlserver_json else None
        for path in args.paths:
            for server in args.servers:
                if (path, server) in unsupported:
                    if server != "fastapi":  # the baseline's missing paths are by design, said once in the notes
                        reason = unsupported[(path, server)].replace("|", "/")[:120]
                        lines.append(f"| {path} | {server} | {size} | - | not supported: {reason} | | | | | | | | | | |")
                    continue
                for load in ("wrk", "python"):
                    runs = saturation.get((path, server, size, load))
                    if not runs:
                        continue
                    rps = median_of(runs, "rps")
                    base_runs = saturation.get((path, "mlserver", size, load))
                    same = f"{rps / median_of(base_runs, 'rps'):.2f}x" if base_runs else "n/a"
                    versus_json = f"{rps / json_base:.2f}x" if json_base else "n/a"
                    errors = sum(run["errors"] for run in runs)
                    timed = latency.get((path, server, size)) if load == primary_load[path] else None
                    if timed:
                        errors += sum(run["errors"] for run in timed)
                        fixed = (f"{rates[size]:,.0f} | {median_of(timed, 'p50_ms'):.2f} | "
                                 f"{median_of(timed, 'p99_ms'):.2f}")
                    else:
                        fixed = "- | - | -"
                    cost = statistics.median(run["server_cpu"] / run["rps"] * 1e6 if run["rps"] else float("nan")
                                             for run in runs)
                    merged = median_of(runs, "requests_per_call")
                    merged_text = "-" if merged != merged else f"{merged:.1f}"  # nan: not Tidal
                    lines.append(f"| {path} | {server} | {size} | {load} | {rps:,.0f} | {same} | {versus_json} | {fixed} "
                                 f"| {errors} | {median_of(runs, 'client_cpu'):.2f} | {median_of(runs, 'server_cpu'):.2f} "
                                 f"| {cost:,.0f} | {merged_text} |")
    return lines


def write_report(args: argparse.Namespace, info: dict[str, Any], loads: tuple[str, str], sizes: dict[str, Any],
                 saturation: dict[tuple[str, str, str, str], list[dict[str, Any]]],
                 latency: dict[tuple[str, str, str], list[dict[str, Any]]], rates: dict[str, float],
                 unsupported: dict[tuple[str, str], str], primary_load: dict[str, str]) -> None:
    """Print the table (and the head above it); with ``--output``, write the whole report there."""
    found = versions(args.mlserver if "mlserver" in args.servers else None)
    rows = table(args, sizes, saturation, latency, rates, unsupported, primary_load)
    head = [
        "# Serving benchmark: Tidal vs MLServer vs a plain FastAPI app (JSON, binary and gRPC paths)",
        "",
        f"Machine: {describe_machine(info)}. " + ", ".join(f"{key} {value}" for key, value in found.items()) + ".",
        "Model: LightGBM binary classifier, 100 trees, 31 leaves, 30 features (breast cancer). The same tensor "
        "(one FP32 tensor [N, 30]) on every path and server. Server on core 0 (`taskset -c 0`), load on core 1 "
        "(`taskset -c 1`), loopback.",
        f"Saturation: closed loop, {args.concurrency} requests in flight, {args.seconds}s: `wrk -t1 -c{args.concurrency}` "
        "for HTTP, a Python `grpc.aio` generator for gRPC. Fixed rate: open loop (Python), latency from the scheduled "
        f"send time, {args.seconds}s, the same rate for every server and path (a fraction {args.rate_fraction} of the "
        f"slowest saturation). Medians of {args.repeats} runs.",
        "Tidal answers with prediction *and* class probabilities (two output tensors); MLServer and FastAPI with the "
        "booster's output only.",
        f"Load average at the start: {loads[0]}; at the end: {loads[1]}. Each server runs in its own session (a fair "
        "CPU share under the kernel's autogroup scheduling) and the servers are interleaved in every repeat.",
        "MLServer runs with `parallel_workers: 0` (inference in the server process: on one pinned core a separate "
        "worker process only adds IPC) and adaptive batching off (its default).",
        "",
    ]
    print("\n".join(head + rows), flush=True)
    if args.output:
        raw = {"saturation": {" ".join(key): runs for key, runs in saturation.items()},
               "latency": {" ".join(key): runs for key, runs in latency.items()},
               "rates": rates, "unsupported": {" ".join(key): reason for key, reason in unsupported.items()}}
        document = head + rows + METHOD_NOTES.splitlines() + JSON_NOTES.splitlines() + [
            "", "Raw runs:", "", "```json", json.dumps(raw, indent=1), "```", ""]
        Path(args.output).write_text("\n".join(document))
        print(f"\nThe whole report: {args.output}", flush=True)
