"""A real Ray cluster on this machine for the tests: ``ray start --head --block`` in its own session,
with a fake GPU and a custom resource declared (Ray schedules by declared resources; nothing uses a GPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import free_port

RAY = str(Path(sys.executable).parent / "ray")


def _start(arguments: list[str], folder: Path, environment: dict[str, str], name: str) -> subprocess.Popen[str]:
    """``ray start ... --block``: its daemons are its children, in a process group of their own."""
    log = open(folder / f"{name}.log", "w")  # noqa: SIM115 - kept open for the process's lifetime
    process = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *arguments], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    started = threading.Event()

    def copy() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            log.flush()
            if "Ray runtime started" in line:
                started.set()
        log.close()

    threading.Thread(target=copy, daemon=True).start()
    deadline = time.time() + 120
    while not started.wait(0.2):
        if process.poll() is not None or time.time() > deadline:
            _stop(process)
            output = (folder / f"{name}.log").read_text()[-3000:]
            raise RuntimeError(f"ray start ({name}) failed:\n{output}")
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    """End the group this fixture started (``ray start`` and the daemons under it), by its id."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=1)
            return
        except subprocess.TimeoutExpired:
            continue


ATTEMPTS = 3  # `ray start` gives its raylet 30 s (fixed in Ray) to register; on a loaded machine that can run out


def _start_retrying(arguments: Callable[[int], list[str]], folder: Path, environment: dict[str, str],
                    name: str) -> subprocess.Popen[str]:
    """``_start`` with fresh ports (``arguments(attempt)``) after a failed attempt; the last failure is raised."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _start(arguments(attempt), folder, environment, name)
        except RuntimeError as error:
            if attempt == ATTEMPTS:
                raise
            print(f"ray start ({name}) attempt {attempt} of {ATTEMPTS} failed, retrying: {str(error)[-300:]}",
                  file=sys.stderr)
    raise AssertionError("unreachable")


@contextmanager
def ray_cluster(folder: Path, environment: dict[str, str], *, cpus: int = 4, gpus: int = 1,
                resources: dict[str, float] | None = None, worker: dict[str, float] | None = None) -> Iterator[str]:
    """A head node (and, with ``worker``, a second node holding those custom resources); yields the address.

    Only what the tests use is started: no autoscaler monitor, no log monitor (each is a Python process
    importing Ray, seconds of CPU on a busy machine); the client server cannot be turned off.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = 0

    def common() -> list[str]:  # ports of each node's own agents: free ones, never Ray's fixed defaults
        return ["--object-store-memory", str(150 * 1024 * 1024), "--node-ip-address", "127.0.0.1",
                "--include-log-monitor=false",
                "--dashboard-agent-listen-port", str(free_port()), "--metrics-export-port", str(free_port()),
                "--runtime-env-agent-port", str(free_port())]

    def head_arguments(attempt: int) -> list[str]:
        nonlocal port
        port = free_port()
        return ["--head", "--port", str(port), "--num-cpus", str(cpus), "--num-gpus", str(gpus),
                "--resources", json.dumps(resources or {}), "--include-dashboard=false",
                "--dashboard-port", str(free_port()), "--ray-client-server-port", str(free_port()), "--no-monitor",
                "--temp-dir", str(folder / f"ray{attempt}"), *common()]

    processes = [_start_retrying(head_arguments, folder, environment, "head")]
    address = f"127.0.0.1:{port}"
    try:
        if worker is not None:
            processes.append(_start_retrying(
                lambda _attempt: ["--address", address, "--num-cpus", "1", "--num-gpus", "0",
                                  "--resources", json.dumps(worker), *common()], folder, environment, "worker"))
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)
