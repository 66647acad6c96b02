"""One LightGBM model served by Tidal, by MLServer and by a plain FastAPI app, side by side, on three paths.

Every server gets the same model and the same one 2-D FP32 tensor (30 features), is pinned to core
0 (``taskset -c 0``) while the load generators run on core 1 (``taskset -c 1``), on loopback only,
in bounded loops. The paths (``payloads.py``):

* ``json``: the Open Inference Protocol's JSON body over HTTP (Tidal, MLServer, FastAPI);
* ``binary``: HTTP with the binary tensor extension, raw FP32 bytes after a JSON header (Tidal;
  MLServer is tried and reported as unsupported when it refuses the body);
* ``grpc``: the protocol over gRPC, values in ``raw_input_contents`` (Tidal, MLServer).

Measured per path, server and body size (1 row, 64 rows):

* saturation throughput, closed loop with 32 requests in flight: ``wrk -t1 -c32`` for HTTP, the
  Python ``grpc.aio`` generator (``loadgen.py --concurrency 32``, one channel) for gRPC; with
  ``--python-http`` the HTTP paths also with the Python generator (aiohttp), to see what the
  generator itself costs; the CPU share of the generator and of the server over each run is
  recorded (a generator near 1.0 means the figure is the generator's limit, not the server's);
* latency at a fixed rate: the open-loop generator (``loadgen.py --rate``), p50 and p99 from the
  scheduled send time, at one rate per body size for every server and path (by default half the
  slowest saturation measured).

Each measurement runs ``--repeats`` times; the medians are reported, in a markdown table on stdout
(and the whole report in ``--output``).

    PYTHONPATH=src .venv/bin/python benchmarks/serving/bench.py --mlserver /tmp/mlserver-venv/bin/mlserver \\
        --python-http --output /tmp/serving-bench.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from loadgen import process_cpu_seconds  # noqa: E402
from payloads import BUILDERS, Payload, grpc_answer, http_answer  # noqa: E402
from report import describe_machine, load_average, machine_info, write_report  # noqa: E402

PYTHON = sys.executable
PATHS = ("json", "binary", "grpc")
SERVERS = ("tidal", "fastapi", "mlserver")
SIZES = {"1": "1 row", "64": "64 rows"}
HTTP_PATHS = ("json", "binary")
#: what the FastAPI baseline was written for: JSON only (a team writing it by hand writes that)
BASELINE_PATHS = ("json",)
PRIMARY_LOAD = {"json": "wrk", "binary": "wrk", "grpc": "python"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(folder: Path) -> tuple[Path, Path, np.ndarray]:
    import lightgbm
    from sklearn.datasets import load_breast_cancer

    from tidal.models import ModelPackage

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [f"f{index}" for index in range(30)] + ["target"]
    features = [name for name in frame.columns if name != "target"]
    estimator = lightgbm.LGBMClassifier(n_estimators=100, num_leaves=31, verbose=-1, random_state=0)
    estimator.fit(frame[features], frame["target"])
    package = ModelPackage.from_estimator(estimator, frame, features=features, task="binary", label="target")
    archive = package.save_archive(folder / "cancer.zip")
    booster_file = folder / "model.txt"
    estimator.booster_.save_model(str(booster_file))
    return archive, booster_file, frame[features].to_numpy(np.float32)


class Server:
    def __init__(self, name: str, command: list[str], port: int, cwd: Path, env: dict[str, str] | None = None,
                 grpc_port: int | None = None) -> None:
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}/v2/models/cancer/infer"
        self.grpc_target = f"127.0.0.1:{grpc_port}" if grpc_port else None
        self.process = subprocess.Popen(["taskset", "-c", "0", *command], cwd=cwd, env={**os.environ, **(env or {})},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid  # taskset execs the server: same process

    def wait(self, probe: Payload, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.post(self.url, content=probe.body, headers=probe.headers, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not start")

    def batch_counts(self) -> tuple[float, float] | None:
        """Tidal's adaptive batching so far: (requests, model calls) from ``/metrics``; None for the other servers."""
        if self.name != "tidal":
            return None
        found = dict.fromkeys(("tidal_batch_requests_sum", "tidal_batch_requests_count"), 0.0)
        for line in httpx.get(self.url.replace("/v2/models/cancer/infer", "/metrics"), timeout=10).text.splitlines():
            name = line.split("{", 1)[0]
            if name in found:
                found[name] += float(line.rsplit(" ", 1)[1])
        return found["tidal_batch_requests_sum"], found["tidal_batch_requests_count"]

    def answer(self, payload: Payload) -> np.ndarray:
        if payload.path == "grpc":
            return grpc_answer(self.grpc_target, payload)
        return http_answer(self.url, payload)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_tidal(folder: Path, archive: Path) -> Server:
    port, grpc_port = free_port(), free_port()
    return Server("tidal", [PYTHON, "-m", "tidal.cli", "serve", f"cancer={archive}", "--port", str(port),
                            "--grpc-port", str(grpc_port), "--drain-seconds", "0"], port, folder, grpc_port=grpc_port)


def start_fastapi(folder: Path, booster_file: Path) -> Server:
    port = free_port()
    return Server("fastapi", [PYTHON, "-m", "uvicorn", "fastapi_app:app", "--port", str(port), "--log-level", "warning",
                              "--no-access-log"], port, HERE, {"TIDAL_BENCH_MODEL": str(booster_file)})


def start_mlserver(folder: Path, booster_file: Path, mlserver: str) -> Server:
    port, grpc_port = free_port(), free_port()
    models = folder / "mlserver"
    (models / "cancer").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(booster_file, models / "cancer" / "model.bst")
    (models / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": grpc_port, "metrics_port": free_port(), "debug": False,
        "parallel_workers": 0, "logging_level": "WARNING"}))
    (models / "cancer" / "model-settings.json").write_text(json.dumps({
        "name": "cancer", "implementation": "mlserver_lightgbm.LightGBMModel", "parameters": {"uri": "./model.bst"}}))
    return Server("mlserver", [mlserver, "start", str(models)], port, models, grpc_port=grpc_port)


def write_temporary(data: bytes, suffix: str) -> str:
    with tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False) as handle:
        handle.write(data)
    return handle.name


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(server: Server, payload: Payload, seconds: int, connections: int) -> dict[str, Any]:
    """Closed loop with wrk; the body is read from a file by the Lua script, so raw bytes go out unchanged."""
    body_file = write_temporary(payload.body, ".body")
    lines = ['wrk.method = "POST"']
    lines += [f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in payload.headers.items()]
    lines += [f'local file = assert(io.open({json.dumps(body_file)}, "rb"))', 'wrk.body = file:read("*a")', "file:close()"]
    script = write_temporary("\n".join(lines).encode(), ".lua")
    client_before, server_before, started = children_cpu_seconds(), process_cpu_seconds(server.pid), time.perf_counter()
    try:
        done = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script,
                               server.url], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script)
        os.unlink(body_file)
    wall = time.perf_counter() - started
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    socket_errors = re.search(r"Socket errors:(.*)", done.stdout)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(count) for count in re.findall(r"\d+", socket_errors.group(1))) if socket_errors else 0
    return {"rps": float(found.group(1)), "errors": errors, "client_cpu": (children_cpu_seconds() - client_before) / wall,
            "server_cpu": (process_cpu_seconds(server.pid) - server_before) / wall}


def loadgen(server: Server, payload: Payload, seconds: int, mode: list[str], channels: int = 1) -> dict[str, Any]:
    """The Python generator on core 1, closed (``--concurrency``) or open loop (``--rate``)."""
    body_file = write_temporary(payload.body, ".body")
    target = (["--grpc", server.grpc_target, "--grpc-channels", str(channels)] if payload.path == "grpc"
              else ["--url", server.url])
    headers = [part for name, value in payload.headers.items() for part in ("--header", f"{name}:{value}")]
    try:
        done = subprocess.run(["taskset", "-c", "1", PYTHON, str(HERE / "loadgen.py"), *target, "--body", body_file,
                               *headers, *mode, "--seconds", str(seconds), "--server-pid", str(server.pid)],
                              capture_output=True, text=True, timeout=seconds + 120)
    finally:
        os.unlink(body_file)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def saturate(server: Server, payload: Payload, load: str, args: argparse.Namespace) -> dict[str, Any]:
    """Closed-loop throughput; for Tidal also how many requests its batcher merged into each model call."""
    before = server.batch_counts()
    if load == "wrk":
        result = wrk(server, payload, args.seconds, args.concurrency)
    else:
        result = loadgen(server, payload, args.seconds, ["--concurrency", str(args.concurrency)], args.grpc_channels)
    after = server.batch_counts()
    if before and after and after[1] > before[1]:
        result["requests_per_call"] = (after[0] - before[0]) / (after[1] - before[1])
    return result


def loads_for(path: str, args: argparse.Namespace) -> list[str]:
    return ["wrk", "python"] if path in HTTP_PATHS and args.python_http else [PRIMARY_LOAD[path]]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlserver", default=shutil.which("mlserver"), help="the mlserver executable (own venv)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, from {', '.join(PATHS)}")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, from {', '.join(SERVERS)}")
    parser.add_argument("--sizes", default=",".join(SIZES), help="rows per request, comma-separated, from 1, 64")
    parser.add_argument("--seconds", type=int, default=8, help="duration of each measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight, closed loop")
    parser.add_argument("--grpc-channels", type=int, default=1, help="gRPC connections the generator spreads over")
    parser.add_argument("--python-http", action="store_true",
                        help="also measure the HTTP paths' saturation with the Python generator, beside wrk")
    parser.add_argument("--rate-fraction", type=float, default=0.5,
                        help="fixed rate per body size: this fraction of the slowest saturation measured")
    parser.add_argument("--no-latency", action="store_true", help="saturation only")
    parser.add_argument("--output", help="write the whole report (markdown, raw runs included) here")
    args = parser.parse_args()
    for option, known in (("paths", PATHS), ("servers", SERVERS), ("sizes", tuple(SIZES))):
        chosen = [item.strip() for item in getattr(args, option).split(",") if item.strip()]
        unknown = [item for item in chosen if item not in known]
        if unknown or not chosen:
            parser.error(f"--{option}: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(known)}")
        setattr(args, option, chosen)
    if "mlserver" in args.servers and not args.mlserver:
        parser.error("no mlserver executable: pass --mlserver /path/to/venv/bin/mlserver, or leave mlserver out of --servers")
    return args


def main() -> None:
    args = parse_arguments()
    info, load_before = machine_info(), load_average()
    print(f"Machine: {describe_machine(info)}\nLoad average at start: {load_before}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="tidal-bench-"))
    archive, booster_file, matrix = train(folder)
    import lightgbm

    expected = lightgbm.Booster(model_file=str(booster_file)).predict(matrix[:64].astype(np.float64))
    sizes = {SIZES[key]: matrix[: int(key)] for key in args.sizes}
    payloads = {(path, size): BUILDERS[path](rows) for path in args.paths for size, rows in sizes.items()}
    checks = {path: BUILDERS[path](matrix[:64]) for path in args.paths}
    probe = BUILDERS["json"](matrix[:1])
    starters = {"tidal": lambda: start_tidal(folder, archive), "fastapi": lambda: start_fastapi(folder, booster_file),
                "mlserver": lambda: start_mlserver(folder, booster_file, args.mlserver)}
    starters = {name: starters[name] for name in args.servers}
    unsupported = {(path, "fastapi"): "not written for it (JSON only)" for path in PATHS if path not in BASELINE_PATHS}

    def usable_paths(server: Server) -> list[str]:
        """The paths this server answers correctly (checked on 64 rows against the booster); a peer's refusal is recorded."""
        usable = []
        for path in args.paths:
            if (path, server.name) in unsupported:
                continue
            try:
                got = server.answer(checks[path])
            except RuntimeError as error:
                if server.name == "tidal":
                    raise
                unsupported[(path, server.name)] = f"refused: {error}"
                print(f"{server.name} does not take the {path} path: {error}", flush=True)
                continue
            np.testing.assert_allclose(got, expected, rtol=1e-5, err_msg=f"{server.name} on {path}")
            usable.append(path)
        return usable

    saturation: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for repeat in range(args.repeats):
        for name, start in starters.items():
            server = start()
            try:
                server.wait(probe)
                for path in usable_paths(server):
                    for size in sizes:
                        for load in loads_for(path, args):
                            result = saturate(server, payloads[(path, size)], load, args)
                            saturation.setdefault((path, name, size, load), []).append(result)
                            print(f"[{repeat}] {path:6s} {name:8s} {size:8s} {load:6s} saturation {json.dumps(result)}", flush=True)
            finally:
                server.stop()
    primary = {key: statistics.median(run["rps"] for run in runs) for key, runs in saturation.items()
               if key[3] == PRIMARY_LOAD[key[0]]}
    rates = {size: max(10.0, round(args.rate_fraction * min(rps for key, rps in primary.items() if key[2] == size), -1))
             for size in sizes}
    latency: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for repeat in range(0 if args.no_latency else args.repeats):
        for name, start in starters.items():
            server = start()
            try:
                server.wait(probe)
                for path in args.paths:
                    if (path, name) in unsupported:
                        continue
                    for size in sizes:
                        result = loadgen(server, payloads[(path, size)], args.seconds, ["--rate", str(rates[size])],
                                         args.grpc_channels)
                        latency.setdefault((path, name, size), []).append(result)
                        print(f"[{repeat}] {path:6s} {name:8s} {size:8s} fixed rate {json.dumps(result)}", flush=True)
            finally:
                server.stop()
    load_after = load_average()
    print(f"Load average at end: {load_after}", flush=True)
    write_report(args, info, (load_before, load_after), sizes, saturation, latency, rates, unsupported, PRIMARY_LOAD)


if __name__ == "__main__":
    main()
