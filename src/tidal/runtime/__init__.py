"""Runs: executors, caching, resume."""

from tidal.runtime._engine import (
    RunEvent,
    check_code_allowed,
    code_nodes,
    parse_override,
    resume_run,
    run_pipeline,
)
from tidal.runtime._executor import Executor, InlineExecutor, LocalExecutor, make_executor
from tidal.runtime._result import RunResult, effective_status
from tidal.runtime._worker import NodeTask, TaskResult

__all__ = [
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "NodeTask",
    "RunEvent",
    "RunResult",
    "TaskResult",
    "check_code_allowed",
    "code_nodes",
    "effective_status",
    "make_executor",
    "parse_override",
    "resume_run",
    "run_pipeline",
]
