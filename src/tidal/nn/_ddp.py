"""Data-parallel training (``acceleration: {parallel: ddp, processes: N}``): N processes, one model.

Each process is a fresh interpreter (``python -m tidal.nn._ddp``), never a fork and never a
re-import of the caller's ``__main__``, so a script or notebook needs no ``if __name__`` guard.
The processes join a gloo process group on loopback and wrap the same network, built from the
same seed, in ``DistributedDataParallel``. Every process draws the same shuffle; each training
batch is split row-wise across them (process r takes rows r, r+N, ...) and DDP averages the
gradients, so a step equals a one-process step on the whole batch (up to the order of float
sums). A batch smaller than N rows is skipped. Validation, checkpoints and early stopping run
identically in every process (same weights, same rows); process 0 hands its result back.

The hand-over goes through a private temporary folder (``mkdtemp``: mode 0700) that only this
training's own processes read: the parent's training data in, process 0's weights and history
out. A process that fails stops the others at once and its first error line is raised here.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError

#: seconds the processes may take to start and meet (imports included)
JOIN_TIMEOUT_S = 120.0


class ParallelTrainingFailed(TidalError):
    """A process of a data-parallel training failed; the message is its first error line."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def train_parallel(loop: Any, processes: int) -> dict[str, Any]:
    """Run ``loop`` (a ``tidal.nn._train._Loop``) in ``processes`` processes; process 0's result."""
    folder = Path(tempfile.mkdtemp(prefix="tidal-ddp-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        payload = (loop.model, loop.settings, loop.inputs, loop.targets, loop.train_rows.numpy(), loop.check_rows.numpy(),
                   loop.target)
        with open(folder / "payload.pkl", "wb") as file:
            pickle.dump(payload, file, protocol=pickle.HIGHEST_PROTOCOL)
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        port = _free_port()
        for rank in range(processes):
            children.append(subprocess.Popen([sys.executable, "-m", "tidal.nn._ddp", str(folder), str(rank), str(processes),
                                              str(port)], env=environment, stdin=subprocess.DEVNULL))
        _wait(children, folder)
        with open(folder / "result.pkl", "rb") as file:
            result: dict[str, Any] = pickle.load(file)  # written by our own process 0, in our private folder
        return result
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(children: list[subprocess.Popen[bytes]], folder: Path) -> None:
    """Until every process ends; the first that fails stops the others (they would wait on it forever)."""
    while True:
        codes = [child.poll() for child in children]
        failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            for child in children:
                if child.poll() is None:
                    child.kill()
            rank = failed[0]
            error_file = folder / f"error-{rank}.txt"
            reason = error_file.read_text().strip() if error_file.exists() else f"it exited with code {codes[rank]}"
            raise ParallelTrainingFailed(f"data-parallel training failed in process {rank} of {len(children)}: {reason}")
        if all(code == 0 for code in codes):
            return
        time.sleep(0.05)


def _child(folder: Path, rank: int, world: int, port: int) -> None:
    import datetime

    import torch
    import torch.distributed as distributed

    from tidal.nn._train import _Loop

    with open(folder / "payload.pkl", "rb") as file:
        model, settings, inputs, targets, train_rows, check_rows, target = pickle.load(file)  # our parent's, private folder
    torch.set_num_threads(settings.threads or 1)
    distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                   timeout=datetime.timedelta(seconds=JOIN_TIMEOUT_S))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            loop = _Loop(model, settings, inputs, targets, train_rows, check_rows, target)
            loop.rank, loop.world = rank, world
            result = loop.run_epochs()
        if rank == 0:
            staging = folder / "result.pkl.tmp"
            with open(staging, "wb") as file:
                pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(staging, folder / "result.pkl")
    finally:
        distributed.destroy_process_group()


def main() -> None:
    folder, rank, world, port = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    try:
        _child(folder, rank, world, port)
    except BaseException as error:  # the parent reports the first line; the whole trace goes to stderr
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        (folder / f"error-{rank}.txt").write_text(f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": "))
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
