"""What runs inside a worker: load inputs, call the component, store outputs, measure."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from tidal.core._errors import CodeNotAllowed, TidalError
from tidal.core._ports import LazyTable
from tidal.core._registry import registry
from tidal.core._resources import Resources
from tidal.runtime._current import NodeContext, running_as
from tidal.runtime._values import as_arrow, read_value, write_value
from tidal.store._artifacts import ArtifactStore


@dataclass(frozen=True)
class InputArtifact:
    uri: str
    type: str
    size_bytes: int
    rows: int | None = None


@dataclass(frozen=True)
class NodeTask:
    """Everything a worker needs to run one node; plain data, so any executor can ship it."""

    run_id: str
    node_id: str
    component: str
    params: dict[str, Any]
    inputs: dict[str, InputArtifact]
    artifacts_uri: str
    storage_options: dict[str, Any]
    workdir: str
    attempt: int = 1
    timeout: float | None = None
    trust: bool = False
    #: run components tagged ``runs_user_code`` (the engine refuses them before the run otherwise)
    allow_code: bool = False
    cache_key: str | None = None
    #: the module defining the component, so a worker imports only what it runs
    module: str | None = None
    #: what this run needs (the component's defaults with the node's overrides); executors schedule by it
    resources: Resources | None = None
    #: "auto": data steps run per partition where the executor provides a runner; "off": as one query
    partitions: str = "auto"


@dataclass
class OutputInfo:
    port: str
    type: str
    uri: str
    content_hash: str
    size_bytes: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskResult:
    node_id: str
    ok: bool
    attempt: int = 1
    outputs: list[OutputInfo] = field(default_factory=list)
    error: str | None = None
    #: "user" (bad data or parameters), "error" (component raised), "crash", "timeout", "cancelled"
    error_kind: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    peak_memory_bytes: int | None = None
    input_rows: int | None = None
    input_bytes: int | None = None
    log_uri: str | None = None


def timeout_message(seconds: float) -> str:
    """What a node that ran past its ``timeout`` reports, whichever executor stopped it."""
    return f"timed out after {seconds:g} s; raise the node's 'timeout' if it needs longer"


_stores: dict[str, ArtifactStore] = {}

#: the tables this worker wrote in its last task, by URI, as immutable Arrow tables; the engine sends
#: a node to the worker that produced its inputs, which then skips reading them back from disk
_recent_tables: dict[str, Any] = {}


def _store(task: NodeTask) -> ArtifactStore:
    key = f"{task.artifacts_uri}|{sorted(task.storage_options.items())}"
    if key not in _stores:
        _stores[key] = ArtifactStore(task.artifacts_uri, task.storage_options)
    return _stores[key]


def _reset_peak_memory() -> None:
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")


def _peak_memory() -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):
        return None


@contextlib.contextmanager
def _capture_output(path: Path, isolated: bool) -> Iterator[None]:
    """Send stdout, stderr and logging to ``path``. Worker processes redirect the file descriptors too."""
    handle = open(path, "w", buffering=1, encoding="utf-8", errors="replace")
    handler = logging.StreamHandler(handle)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    saved_streams = (sys.stdout, sys.stderr)
    saved_fds: list[int] = []
    if isolated:
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fds = [os.dup(1), os.dup(2)]
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved_streams
        root.removeHandler(handler)
        handle.flush()
        if isolated:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for descriptor in saved_fds:
                os.close(descriptor)
        handle.close()


def _gpu_share(task: NodeTask) -> contextlib.AbstractContextManager[None]:
    """A node asking a fraction of a GPU gets PyTorch's allocator capped at that fraction of the device it was
    given; an allocation beyond it fails in this node alone, naming its share. Nothing is imported without an
    NVIDIA driver (no GPU: nothing to share)."""
    gpus = task.resources.gpus if task.resources is not None else None
    if not gpus or gpus >= 1 or not os.path.exists("/proc/driver/nvidia/version"):
        return contextlib.nullcontext()
    from tidal.runtime._gpu_share import apply_memory_share

    share = apply_memory_share(gpus, 0, job=f"node '{task.node_id}'")
    return share.guard() if share is not None else contextlib.nullcontext()


#: the variables native thread pools read when their library loads (OpenMP, OpenBLAS, MKL, numexpr)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_environment(threads: int) -> dict[str, str]:
    """The variables that start every native thread pool of a process with ``threads`` threads."""
    return dict.fromkeys(THREAD_VARIABLES, str(max(1, threads)))


@contextlib.contextmanager
def _thread_limit(task: NodeTask) -> Iterator[None]:
    """A node asking for ``cpus: k`` runs its native thread pools (OpenMP, BLAS, PyTorch) on ``k`` threads, as
    Ray does for its tasks: without it, nodes side by side each start one thread per core, and OpenMP's
    spinning threads (LightGBM's, say) slow every one of them down many times over.

    Pools already loaded are limited with threadpoolctl; the environment covers libraries the node loads
    while it runs (each reads it once, when it loads)."""
    cpus = task.resources.cpus if task.resources is not None else None
    if not cpus:
        yield
        return
    from threadpoolctl import threadpool_limits

    threads = max(1, int(cpus))
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(thread_environment(threads))
    torch = sys.modules.get("torch")  # only where something already imported it
    before = torch.get_num_threads() if torch is not None and hasattr(torch, "get_num_threads") else None
    try:
        with threadpool_limits(limits=threads):
            if before is not None:
                torch.set_num_threads(threads)  # type: ignore[union-attr]
            yield
    finally:
        if before is not None:
            torch.set_num_threads(before)  # type: ignore[union-attr]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute_task(task: NodeTask, isolated: bool = True) -> TaskResult:
    """Run one node. Never raises for component errors: they come back in the result."""
    store = _store(task)
    staging = store.staging_dir()
    log_path = staging / f"{uuid.uuid4().hex}.log"
    result = TaskResult(task.node_id, ok=False, attempt=task.attempt)
    started = time.perf_counter()
    previous_dir = os.getcwd()
    try:
        with _capture_output(log_path, isolated):
            try:
                if os.path.isdir(task.workdir):  # a cluster node without the workspace runs where it stands
                    os.chdir(task.workdir)
                spec = registry.get(task.component, module=task.module)
                if spec.runs_user_code and not task.allow_code:
                    raise CodeNotAllowed(f"node '{task.node_id}' ({task.component}) runs code from the pipeline; "
                                         "this run did not allow it (allow_code)")
                inputs = {}
                for port, artifact in task.inputs.items():
                    port_spec = spec.input(port)
                    in_memory = _recent_tables.get(artifact.uri)
                    if in_memory is not None and port_spec is not None and port_spec.delivery != "lazy":
                        inputs[port] = in_memory
                    else:
                        inputs[port] = read_value(store.local_path(artifact.uri), artifact.type, task.trust)
                result.input_bytes = sum(item.size_bytes for item in task.inputs.values()) if task.inputs else None
                result.input_rows = sum(item.rows or 0 for item in task.inputs.values()) if task.inputs else None
                _reset_peak_memory()
                with _gpu_share(task), _thread_limit(task), running_as(NodeContext(task.run_id, task.node_id, task.component)):
                    outputs = spec.execute(inputs, task.params, node=task.node_id)
                produced: dict[str, Any] = {}
                for port_spec in spec.outputs:
                    value = outputs[port_spec.name]
                    if port_spec.type == "Model":
                        value.lineage = {"run_id": task.run_id, "node_id": task.node_id, "component": task.component}
                    if port_spec.type == "Table" and not isinstance(value, LazyTable):
                        value = as_arrow(value)
                    path, suffix, meta = write_value(value, port_spec.type, staging)
                    uri, digest, size = store.put_content_addressed(path, suffix)
                    result.outputs.append(OutputInfo(port_spec.name, port_spec.type, uri, digest, size, meta))
                    if port_spec.type == "Table" and isinstance(value, pa.Table):
                        produced[uri] = value
                _recent_tables.clear()
                _recent_tables.update(produced)
                result.ok = True
            except TidalError as error:
                result.error, result.error_kind = str(error), "user"
                print(f"error: {error}", file=sys.stderr)
            except Exception as error:
                result.error, result.error_kind = f"{type(error).__name__}: {error}", "error"
                result.traceback = traceback.format_exc()
                print(result.traceback, file=sys.stderr)
            finally:
                os.chdir(previous_dir)
        result.peak_memory_bytes = _peak_memory()
        result.log_uri = store.put_file(log_path, f"logs/{task.run_id}/{task.node_id}.{task.attempt}.log")
    except Exception as error:  # the store itself failed: report, do not die
        result.ok = False
        result.error, result.error_kind = f"could not store results: {type(error).__name__}: {error}", "error"
        result.traceback = traceback.format_exc()
    result.duration_s = time.perf_counter() - started
    return result


#: how often a worker checks that the engine that started it is still alive
ENGINE_CHECK_SECONDS = 0.5


def _exit_with_engine(engine_pid: int) -> None:
    """End this worker at once when its engine dies (``kill -9`` included), even in the middle of a node."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(ENGINE_CHECK_SECONDS)
            if os.getppid() != engine_pid:  # re-parented: the engine is gone
                os._exit(70)

    threading.Thread(target=watch, name="tidal-engine-watch", daemon=True).start()


#: comma-separated component modules a new worker imports before it connects
PRELOAD_VARIABLE = "TIDAL_WORKER_PRELOAD"


def worker_main(address: str) -> None:
    """A worker process: connect to the engine, then run tasks until the connection closes."""
    import signal
    from multiprocessing.connection import Client

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the engine decides what Ctrl-C does
    _exit_with_engine(os.getppid())
    # the component modules the run will likely need, imported before connecting: a worker started ahead
    # of need is then ready for its first node (the engine validates the pipeline meanwhile)
    registry.preload([name for name in os.environ.pop(PRELOAD_VARIABLE, "").split(",") if name])
    connection = Client(address, family="AF_UNIX", authkey=bytes.fromhex(os.environ.pop("TIDAL_WORKER_AUTHKEY")))
    connection.send(os.getpid())  # which of the started processes this connection is
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        connection.send(execute_task(task))
