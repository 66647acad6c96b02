"""Helpers for the model server's hostile-input tests: hostile packages, a server in a thread, a clock we control."""

from __future__ import annotations

import json
import pickle
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import uvicorn
from servers import free_port


class WritesMarker:
    """Unpickling this calls ``Path(marker).write_text("pwned")``: proof that a payload's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (Path(self.marker), "pwned"))


def pickle_gadget_package(folder: Path, marker: Path) -> Path:
    """A Tidal model package of the ``pickle`` flavor whose payload writes ``marker`` when unpickled."""
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(WritesMarker(marker), protocol=4))
    manifest = {
        "tidal_model": 1, "flavor": "pickle", "payload": "model.pkl", "task": "regression", "label": None,
        "classes": None, "params": {}, "metadata": {}, "lineage": {}, "libraries": {}, "created_at": "",
        "signature": {"inputs": [{"name": "x", "dtype": "float64"}], "outputs": [{"name": "prediction", "dtype": "float64"}]},
    }
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    return folder


def custom_code_package(folder: Path, marker: Path) -> Path:
    """A custom-processor package whose module writes ``marker`` as soon as it is imported."""
    from tidal.serving import custom_package

    folder.mkdir(parents=True)
    module = folder / "hostile.py"
    module.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('pwned')\n\n"
                      "class Hostile:\n    def load(self, context):\n        pass\n\n"
                      "    def predict(self, frame):\n        return {'prediction': frame['x'].to_numpy()}\n")
    package = custom_package(module, "Hostile", inputs={"x": "float64"}, outputs={"prediction": "float64"}, task="regression")
    return package.save_archive(folder / "hostile.zip")  # type: ignore[no-any-return]


def linear_archive(path: Path) -> Path:
    """A safe (skops) package of y = 2x."""
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    package = ModelPackage.from_estimator(LinearRegression().fit(frame[["x"]], frame["x"] * 2.0), frame,
                                          features=["x"], task="regression")
    return package.save_archive(path)  # type: ignore[no-any-return]


@contextmanager
def uvicorn_in_thread(app: Any) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free 127.0.0.1 port, in a thread of this process; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):  # waits for start-up only; nothing is measured
            if server.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


class FakeClock:
    """Seconds that pass only when the model says so: service times are exact, whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def model_taking(clock: FakeClock, seconds: float, release: threading.Event | None = None):
    """A model of y = 2x whose every call takes ``seconds`` on ``clock`` (after ``release``, if given)."""

    def predict(columns: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        if release is not None:
            release.wait(60)
        clock.now += seconds
        return {"prediction": np.asarray(columns["x"], dtype=float) * 2.0}

    return predict
