"""What a workspace's stream jobs are doing, read from their folders (``.tidal/streams/NAME/``).

A running job writes ``status.json`` after every micro-batch (state, epoch, rows, outputs, dead
letters, rows/s, lag, schema changes) and a decision file per proposed snapshot; this module reads
them for ``tidal stream list|status`` and the Studio. Nothing here talks to a running job: a job
marked running whose process is gone is reported dead. Every file is size-bounded before it is
read, and one that cannot be read is reported as such, never raised.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MAX_STATUS_BYTES = 1024 * 1024
#: snapshot decisions read back to find the last accepted one (a job proposes one per ``snapshot_every`` rows)
MAX_DECISIONS = 1000


def jobs_folder(workspace: str | Path) -> Path:
    return Path(workspace) / ".tidal" / "streams"


def _read_json(path: Path) -> Any:
    try:
        if not path.is_file() or path.stat().st_size > MAX_STATUS_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _pid(folder: Path) -> int:
    try:
        text = (folder / "pid").read_text()[:20].strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def model_metric(folder: Path) -> dict[str, Any] | None:
    """The job's learner as the quality gate sees it: the last accepted snapshot (metric, value, registered version)
    and the last decision; None when no snapshot was proposed yet."""
    snapshots = folder / "snapshots"
    if not snapshots.is_dir():
        return None
    decisions = sorted(snapshots.glob("snapshot-*.json"))
    if not decisions:
        return None
    last = _read_json(decisions[-1])
    accepted = None
    for path in reversed(decisions[-MAX_DECISIONS:]):
        record = _read_json(path)
        if isinstance(record, dict) and record.get("accepted"):
            accepted = record
            break
    ledger = _read_json(snapshots / "registered.json")
    ledger = ledger if isinstance(ledger, dict) else {}
    result: dict[str, Any] = {"proposed": len(decisions), "accepted": len(list(snapshots.glob("model-*")))}
    if isinstance(last, dict):
        result["last"] = {key: last.get(key) for key in ("index", "accepted", "metric", "value", "reason")}
    if accepted is not None:
        name = f"model-{int(accepted.get('index', 0)):05d}"
        result.update(metric=accepted.get("metric"), value=accepted.get("value"), snapshot=accepted.get("index"),
                      version=ledger.get(name))
    return result


def job_status(folder: Path) -> dict[str, Any]:
    """One job's status; ``state`` is ``running``, ``stopped``, ``failed``, ``never run``, or says it died."""
    status = _read_json(folder / "status.json")
    if status is None:
        state = "unreadable status" if (folder / "status.json").exists() else "never run"
        status = {"job": folder.name, "state": state}
    elif not isinstance(status, dict):
        status = {"job": folder.name, "state": "unreadable status"}
    if status.get("state") == "running" and not alive(_pid(folder)):
        status["state"] = "dead (killed or crashed: `tidal stream run` resumes it from its checkpoint)"
    status["job"] = folder.name  # the folder names the job, whatever the file says
    status["model"] = model_metric(folder)
    return status


def list_jobs(workspace: str | Path) -> list[dict[str, Any]]:
    """Every stream job of a workspace with its status, by name."""
    folder = jobs_folder(workspace)
    if not folder.is_dir():
        return []
    return [job_status(path) for path in sorted(folder.iterdir()) if path.is_dir() and not path.is_symlink()]
