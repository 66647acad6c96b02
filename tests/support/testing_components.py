"""Components used only by the tests: slow, failing, crashing and flaky steps.

Loaded into worker processes through ``TIDAL_PLUGINS=testing_components`` (with this folder on
PYTHONPATH). Each execution appends a line to ``$TIDAL_TEST_LOG`` so tests can count them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import pandas as pd

from tidal.core import Metrics, Param, component

#: a folder standing in for a GPU: a process "holds" the bytes written to FOLDER/PID (tests set it for Ray workers)
FAKE_GPU_VARIABLE = "TIDAL_TEST_FAKE_GPU"
FAKE_GPU_MIB = 1000


def _install_fake_gpu(folder: str) -> None:
    """Make the local executor's GPU probe read ``folder`` instead of NVML, in this process."""
    from tidal.runtime import _executor

    def sampler(pid: int) -> int | None:
        held = Path(folder, str(pid))
        return int(held.read_text()) if held.exists() else None

    _executor.GPU_PROBE = lambda: (sampler, FAKE_GPU_MIB << 20)


if os.environ.get(FAKE_GPU_VARIABLE):
    _install_fake_gpu(os.environ[FAKE_GPU_VARIABLE])


def _note(name: str) -> None:
    log = os.environ.get("TIDAL_TEST_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{name}\n")


@component("testing.source", tags={"sample": "none"})
def source(*, rows: Annotated[int, Param(ge=0)] = 3, tag: str = "a") -> pd.DataFrame:
    """A small table.

    Examples
    --------
    >>> len(source(rows=2))
    2
    """
    _note(f"source:{tag}")
    return pd.DataFrame({"x": range(rows), "tag": [tag] * rows})


@component("testing.step", tags={"sample": "mixed"})
def step(data: pd.DataFrame, *, seconds: Annotated[float, Param(ge=0)] = 0.0, tag: str = "s") -> pd.DataFrame:
    """Pass the table through after waiting ``seconds``.

    Examples
    --------
    >>> len(step(pd.DataFrame({"x": [1]})))
    1
    """
    _note(f"step:{tag}")
    time.sleep(seconds)
    return data.assign(**{f"seen_{tag}": 1})


@component("testing.wait_for_file", tags={"sample": "mixed"})
def wait_for_file(data: pd.DataFrame, *, path: str = "", tag: str = "w") -> pd.DataFrame:
    """Wait until ``path`` exists (tests use it to hold a run in place).

    Examples
    --------
    >>> len(wait_for_file(pd.DataFrame({"x": [1]})))
    1
    """
    _note(f"wait:{tag}")
    while path and not Path(path).exists():
        time.sleep(0.05)
    return data


@component("testing.fail", tags={"sample": "mixed"})
def fail(data: pd.DataFrame, *, message: str = "boom") -> pd.DataFrame:
    """Always raise.

    Examples
    --------
    >>> fail(pd.DataFrame({"x": [1]}))
    Traceback (most recent call last):
    RuntimeError: boom
    """
    _note("fail")
    raise RuntimeError(message)


@component("testing.crash", tags={"sample": "mixed"})
def crash(data: pd.DataFrame, *, code: int = 3) -> pd.DataFrame:
    """Kill the worker process (as a segfaulting extension would).

    Examples
    --------
    >>> crash  # doctest: +ELLIPSIS
    <component testing.crash v1>
    """
    _note("crash")
    os._exit(code)


@component("testing.flaky", tags={"sample": "mixed"})
def flaky(data: pd.DataFrame, *, failures: Annotated[int, Param(ge=0)] = 1, marker: str = "") -> pd.DataFrame:
    """Fail the first ``failures`` times (counted in the ``marker`` file), then succeed.

    Examples
    --------
    >>> len(flaky(pd.DataFrame({"x": [1]}), failures=0))
    1
    """
    _note("flaky")
    if marker:
        count = int(Path(marker).read_text()) if Path(marker).exists() else 0
        Path(marker).write_text(str(count + 1))
        if count < failures:
            raise RuntimeError(f"flaky failure {count + 1}")
    return data


@component("testing.score", tags={"sample": "mixed"})
def score(data: pd.DataFrame, *, scale: float = 1.0) -> Metrics:
    """Metrics from a table.

    Examples
    --------
    >>> score(pd.DataFrame({"x": [1, 2]}))["rows"]
    2.0
    """
    _note("score")
    return Metrics({"rows": float(len(data)) * scale})


@component("testing.hold", tags={"sample": "none"}, resources={"cpus": 0.5})
def hold(*, folder: str = "", quorum: Annotated[int, Param(ge=1)] = 1, seconds: Annotated[float, Param(ge=0)] = 0.0,
         tag: str = "h") -> pd.DataFrame:
    """Note when this run starts and ends and which GPUs it was given; wait until ``quorum`` runs have
    started (each leaves a file in ``folder``; at most a minute), then ``seconds`` more.

    Examples
    --------
    >>> list(hold(tag="x").columns)
    ['tag', 'started', 'finished', 'cuda_visible_devices', 'pid']
    """
    import logging

    _note(f"hold:{tag}")
    started = time.time()
    print(f"hold {tag} started")
    logging.getLogger("testing.hold").warning("hold %s is holding", tag)
    if folder:
        Path(folder, f"{tag}.started").write_text(str(started))
        deadline = started + 60
        while len(list(Path(folder).glob("*.started"))) < quorum and time.time() < deadline:
            time.sleep(0.02)
    time.sleep(seconds)
    return pd.DataFrame({"tag": [tag], "started": [started], "finished": [time.time()],
                         "cuda_visible_devices": [os.environ.get("CUDA_VISIBLE_DEVICES")], "pid": [os.getpid()]})


@component("testing.gpu_hog", tags={"sample": "none"})
def gpu_hog(*, folder: str = "", mib: Annotated[int, Param(ge=0)] = 0, seconds: Annotated[float, Param(ge=0)] = 0.0) -> pd.DataFrame:
    """Pretend to hold ``mib`` MiB of GPU memory (written to ``folder``/PID, where a test's fake GPU sampler
    reads it), then wait ``seconds``.

    Examples
    --------
    >>> list(gpu_hog().columns)
    ['pid', 'mib']
    """
    if folder:
        Path(folder, str(os.getpid())).write_text(str(mib << 20))
    time.sleep(seconds)
    return pd.DataFrame({"pid": [os.getpid()], "mib": [mib]})


@component("testing.loaded", tags={"sample": "none"})
def loaded(*, module: str = "json") -> Metrics:
    """Whether a module was already imported in the process that runs this node (1.0) or not (0.0).

    Examples
    --------
    >>> loaded(module="os")["loaded"]
    1.0
    """
    import sys

    return Metrics({"loaded": float(module in sys.modules)})


@component("testing.threads", tags={"sample": "none"})
def threads(*, load: str = "") -> Metrics:
    """The native threads this node may use: the OpenMP variable, the largest OpenMP and BLAS pools
    (threadpoolctl), and PyTorch's; ``load`` names a module to import first (to load its pools now).

    Examples
    --------
    >>> threads()["openmp_variable"] >= 0.0
    True
    """
    import importlib
    import sys

    from threadpoolctl import threadpool_info

    if load:
        importlib.import_module(load)
    pools = threadpool_info()

    def largest(api: str) -> float:
        return float(max((pool["num_threads"] for pool in pools if pool["user_api"] == api), default=0))

    torch = sys.modules.get("torch")
    return Metrics({"openmp_variable": float(os.environ.get("OMP_NUM_THREADS") or 0), "openmp": largest("openmp"),
                    "blas": largest("blas"), "torch": float(torch.get_num_threads()) if torch is not None else 0.0})
