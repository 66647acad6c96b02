"""The Ray executor: each node a Ray task, scheduled on a cluster by the node's resource request.

``RayExecutor(address=...)`` connects to the cluster at ``address`` (or ``RAY_ADDRESS``); without
one it uses the Ray this process is already connected to, else starts a Ray on this machine that
lives as long as this process. Each node runs ``execute_task`` in a Ray worker, with
``num_cpus`` / ``memory`` / ``num_gpus`` (fractions included) / custom ``resources`` taken from the
node's request; Ray sets ``CUDA_VISIBLE_DEVICES`` for the GPUs it grants and Tidal leaves it as set.
Inside each node, the out-of-core data steps run per partition as further Ray tasks when their
input is split (``runtime/_ray_partitions``, ``components/_partitioned``).
Records, logs, the cache and resume are the engine's, exactly as with the local executor; outputs
and logs go to the workspace's artifact store, so every Ray node must reach it: a cluster reached
through an address needs an S3-compatible store, and is refused with a local folder.

Ray is imported only when this executor is made, so ``import tidal`` stays fast.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tidal.core._errors import TidalError
from tidal.core._resources import Resources, check_fits
from tidal.runtime._worker import NodeTask, TaskResult, execute_task, timeout_message

if TYPE_CHECKING:
    from tidal.store._artifacts import ArtifactStore

_CLUSTER_HINT = "lower the node's 'resources', or add a Ray node that has them"


class _Connection:
    """This process's connection to Ray, when Tidal made it (a caller's own ``ray.init`` is left alone)."""

    #: the Ray job id and cluster (GCS address) of the connection Tidal made; another one means the caller has
    #: reconnected since (job ids alone repeat: the first driver of every cluster is job 01000000)
    job: str | None = None
    cluster: str | None = None
    address: str | None = None

    @classmethod
    def ours(cls, ray: Any) -> bool:
        context = ray.get_runtime_context()
        return cls.job is not None and context.get_job_id() == cls.job and context.gcs_address == cls.cluster


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TidalError('the ray executor needs Ray: pip install "tidal[ray]"') from None
    return ray


def connect(address: str | None) -> bool:
    """Connect this process to Ray; returns whether the cluster shares this machine's disk.

    A Ray started here does; a cluster reached through an address may run nodes on other machines,
    so it does not; a Ray the caller connected to itself does when every node runs on this machine.
    """
    ray = _import_ray()
    if ray.is_initialized():
        if not _Connection.ours(ray):  # the caller's own connection: use it as it is
            if address is not None:
                return False
            here = ray.util.get_node_ip_address()
            return all(node.get("NodeManagerAddress") == here for node in ray.nodes() if node.get("Alive"))
        if address is None or address == _Connection.address:
            return _Connection.address is None
        ray.shutdown()
    if address is not None:
        _probe(address)
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address is None:
            ray.init(include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a Ray on this machine"
        raise TidalError(f"cannot reach {where}: {error}; start one with `ray start --head` and pass its address "
                         "(--address HOST:PORT)") from None
    context = ray.get_runtime_context()
    _Connection.job, _Connection.cluster, _Connection.address = context.get_job_id(), context.gcs_address, address
    return address is None


#: seconds to wait for a cluster's address to answer before giving up (Ray itself retries for minutes)
PROBE_TIMEOUT_S = 5.0


def _probe(address: str) -> None:
    """Fail fast, with the address, when nothing listens at a ``HOST:PORT`` (``auto`` and ``ray://`` go to Ray)."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit() or "://" in address:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            return
    except OSError as error:
        raise TidalError(f"cannot reach the Ray cluster at {address}: nothing answers there ({error}); start it with "
                         "`ray start --head --port PORT` on its head node, or check --address / RAY_ADDRESS") from None


def _partitioned(task: NodeTask, shares_disk: bool) -> TaskResult:
    """Run the node with data steps spread over the cluster, partition by partition (``runtime/_ray_partitions``),
    unless the node says ``partitions: off``."""
    from tidal.core._partitions import use_runner
    from tidal.runtime._ray_partitions import RayPartitionRunner

    if task.partitions == "off":
        return execute_task(task, isolated=True)
    with use_runner(RayPartitionRunner(shares_disk=shares_disk)):
        return execute_task(task, isolated=True)


def _run_node(task: NodeTask, shares_disk: bool = True) -> TaskResult:
    """What a Ray worker runs for one node (Ray has already set CUDA_VISIBLE_DEVICES for its GPUs)."""
    return _partitioned(task, shares_disk)


def _run_node_with_timeout(task: NodeTask, shares_disk: bool = True) -> TaskResult:
    """A node with a timeout, counted from when it starts on its worker (not while it waits for resources).

    Its remote function has ``max_calls=1``: the worker exits after answering, so a node still running
    past its timeout dies with it.
    """
    box: list[TaskResult] = []
    started = time.perf_counter()
    thread = threading.Thread(target=lambda: box.append(_partitioned(task, shares_disk)), daemon=True,
                              name=f"tidal-node-{task.node_id}")
    thread.start()
    thread.join(task.timeout)
    if box:
        return box[0]
    return TaskResult(task.node_id, ok=False, attempt=task.attempt, error=timeout_message(task.timeout or 0.0),
                      error_kind="timeout", duration_s=time.perf_counter() - started)


def _run_node_in_watched_worker(task: NodeTask, shares_disk: bool = True) -> TaskResult:
    """A node asking a fraction of a GPU: run in a local worker process of this Ray worker, which the local
    executor watches as it does on one machine (the allocator cap inside, the NVML watchdog beside it).

    A node over its share is stopped alone and fails naming its share; this Ray worker answers for it, and
    the node's neighbours on the same device run on. The local executor also keeps the node's timeout.
    Its data steps, if any, run as one query (``shares_disk`` is unused: the local worker has no runner).
    """
    from tidal.core._registry import PLUGINS_VARIABLE, registry
    from tidal.runtime._executor import LocalExecutor

    # the pipeline's own plug-ins, which its nodes need anyway: a site may set the GPU probe from one
    registry.preload([name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()])
    executor = LocalExecutor(1)
    try:
        executor.submit(task)
        while True:
            results = executor.wait(timeout=1.0)
            if results:
                return results[0]
    finally:
        executor.shutdown()


_remote_functions: dict[str, Any] = {}


def _remote(kind: str) -> Any:
    """The Ray remote function for a node (``plain``, ``timed`` or ``watched``); Ray never retries it (the
    engine owns retries)."""
    if kind not in _remote_functions:
        ray = _import_ray()
        options: dict[str, Any] = {"max_retries": 0, "retry_exceptions": False}
        if kind == "timed":
            options["max_calls"] = 1
        runners = {"plain": _run_node, "timed": _run_node_with_timeout, "watched": _run_node_in_watched_worker}
        _remote_functions[kind] = ray.remote(**options)(runners[kind])
    return _remote_functions[kind]


def runner_kind(task: NodeTask) -> str:
    """How a node runs on its Ray worker: watched in a local worker when it asks a fraction of a GPU,
    in a thread with a deadline when it has a timeout, else directly."""
    gpus = task.resources.gpus if task.resources is not None else None
    if gpus and gpus < 1:
        return "watched"
    return "timed" if task.timeout else "plain"


def ray_options(task: NodeTask) -> dict[str, Any]:
    """The Ray task options for a node's request (Ray's default, 1 CPU, where it asks for none)."""
    request = task.resources or Resources()
    options: dict[str, Any] = {"num_cpus": request.cpus if request.cpus is not None else 1,
                               "name": f"tidal:{task.node_id}"}
    if request.gpus:
        options["num_gpus"] = request.gpus
    if request.memory_bytes:
        options["memory"] = request.memory_bytes
    if request.custom:
        options["resources"] = dict(request.custom)
    return options


def _node_resources(node: Mapping[str, Any]) -> dict[str, float]:
    """A Ray node's totals under Tidal's keys (cpus, gpus, memory; custom names as they are)."""
    names = {"CPU": "cpus", "GPU": "gpus", "memory": "memory"}
    return {names.get(name, name): float(amount) for name, amount in (node.get("Resources") or {}).items()}


def check_on_cluster(node_id: str, request: Resources, nodes: list[dict[str, float]]) -> None:
    """Refuse a request no single Ray node can satisfy, with the numbers."""
    wanted = Resources(request.cpus if request.cpus is not None else 1.0, request.memory_bytes, request.gpus,
                       dict(request.custom))
    needs = {"cpus": wanted.cpus or 0.0, "gpus": wanted.gpus or 0.0, "memory": float(wanted.memory_bytes or 0),
             **wanted.custom}
    if any(all(node.get(key, 0.0) + 1e-9 >= amount for key, amount in needs.items()) for node in nodes):
        return
    if not nodes:
        raise TidalError("the Ray cluster has no live nodes; start one with `ray start`")
    largest = {key: max(node.get(key, 0.0) for node in nodes) for key in needs}
    check_fits(node_id, wanted, "the largest Ray node", largest, _CLUSTER_HINT)
    raise TidalError(f"node '{node_id}' asks {wanted.describe()} together; no single Ray node has all of them "
                     f"({len(nodes)} nodes); {_CLUSTER_HINT}")


#: nodes the Ray executor keeps in flight per cluster CPU when --workers does not say
IN_FLIGHT_PER_CPU = 4


class RayExecutor:
    """Node tasks as Ray tasks. ``workers`` caps the nodes in flight (default: the cluster's CPU count)."""

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        chosen = address or os.environ.get("RAY_ADDRESS") or None
        self.address = None if chosen == "local" else chosen
        self._ray = _import_ray()
        self._shares_disk = connect(self.address)
        cpus = float(self._ray.cluster_resources().get("CPU", 1.0))
        # nodes in flight: by default four per cluster CPU, so Ray always has the next tasks queued and the
        # round trips overlap (measured: 3.1 ms per no-op node against 5.0 with one per CPU); Ray schedules them
        self.capacity = max(1, int(workers) if workers else IN_FLIGHT_PER_CPU * max(1, int(cpus)))
        self._running: dict[Any, tuple[NodeTask, float]] = {}
        self._failed: list[TaskResult] = []

    def check(self, requests: Mapping[str, Resources], artifacts: ArtifactStore) -> None:
        if artifacts.local and not self._shares_disk:
            where = f"the Ray cluster at {self.address}" if self.address else "this Ray cluster"
            raise TidalError(
                f"the workspace's artifacts are in a local folder ({artifacts.uri}), which {where} may not reach from "
                "its other machines; put them on an S3-compatible store every Ray node can reach, e.g. "
                f"`tidal --artifacts s3://BUCKET/PREFIX run FILE --executor ray --address {self.address or 'HOST:PORT'}` "
                "(or TIDAL_ARTIFACTS; AWS_ENDPOINT_URL for a store other than AWS)")
        nodes = [_node_resources(node) for node in self._ray.nodes() if node.get("Alive")]
        for node_id, request in requests.items():
            check_on_cluster(node_id, request, nodes)

    def memory_limit(self) -> tuple[int | None, str]:
        """The most memory one node can have on the cluster: its largest live node's."""
        sizes = [int(_node_resources(node).get("memory", 0)) for node in self._ray.nodes() if node.get("Alive")]
        return (max(sizes) if sizes else None), "the largest Ray node"

    def submit(self, task: NodeTask) -> None:
        try:
            reference = _remote(runner_kind(task)).options(**ray_options(task)).remote(task, self._shares_disk)
        except (ValueError, TypeError) as error:  # Ray refused the options
            self._failed.append(TaskResult(task.node_id, ok=False, attempt=task.attempt, error_kind="user",
                                           error=f"Ray refused the node's resources: {error}"))
            return
        self._running[reference] = (task, time.monotonic())

    def wait(self, timeout: float | None) -> list[TaskResult]:
        if self._failed:
            failed, self._failed = self._failed, []
            return failed
        if not self._running:
            return []
        pending = list(self._running)
        ready, _ = self._ray.wait(pending, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(pending, num_returns=len(pending), timeout=0)
        try:  # every finished node's result in one call; a failed one is then fetched alone, to say what failed
            values: list[Any] | None = self._ray.get(ready)
        except Exception:
            values = None
        results = []
        for index, reference in enumerate(ready):
            task, submitted = self._running.pop(reference)
            results.append(values[index] if values is not None else self._outcome(reference, task, submitted))
        return results

    def _outcome(self, reference: Any, task: NodeTask, submitted: float) -> TaskResult:
        exceptions = self._ray.exceptions

        def failure(error: str, kind: str) -> TaskResult:
            return TaskResult(task.node_id, ok=False, attempt=task.attempt, error=error, error_kind=kind,
                              duration_s=time.monotonic() - submitted)

        try:
            result: TaskResult = self._ray.get(reference)
        except exceptions.TaskCancelledError:
            return failure("cancelled", "cancelled")
        except exceptions.OutOfMemoryError as error:
            return failure(f"Ray stopped the worker running this node: its machine ran low on memory ({_first_line(error)}); "
                           "ask for what it needs with resources.memory", "crash")
        except exceptions.RayTaskError as error:
            return failure(f"the Ray worker could not run this node: {_first_line(error.cause or error)}; every Ray node "
                           "needs Tidal and the pipeline's plug-ins installed", "error")
        except exceptions.RayError as error:
            return failure(f"the Ray worker running this node died ({type(error).__name__}: {_first_line(error)}); "
                           "the component crashed, ran out of memory, or its Ray node went away", "crash")
        return result

    def cancel(self) -> list[str]:
        stopped = []
        for reference, (task, _) in self._running.items():
            try:
                self._ray.cancel(reference, force=True)
            except Exception as error:  # a task that just finished cannot be cancelled: nothing to stop
                logging.getLogger(__name__).debug("cancelling node %s: %s", task.node_id, error)
            stopped.append(task.node_id)
        self._running = {}
        return stopped

    def shutdown(self) -> None:
        """Stop what is still running; the connection stays for the next run in this process."""
        self.cancel()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
