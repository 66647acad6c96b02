"""Runs: executors, caching, resume."""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "Executor": "tidal.runtime._executor",
    "InlineExecutor": "tidal.runtime._executor",
    "LocalExecutor": "tidal.runtime._executor",
    "NodeContext": "tidal.runtime._current",
    "NodeTask": "tidal.runtime._worker",
    "RayExecutor": "tidal.runtime._ray_executor",
    "RunEvent": "tidal.runtime._events",
    "RunResult": "tidal.runtime._result",
    "TaskResult": "tidal.runtime._worker",
    "check_code_allowed": "tidal.runtime._preflight",
    "code_nodes": "tidal.runtime._preflight",
    "current_node": "tidal.runtime._current",
    "effective_status": "tidal.runtime._result",
    "make_executor": "tidal.runtime._executor",
    "parse_override": "tidal.runtime._preflight",
    "ray_data_steps": "tidal.runtime._ray_partitions",
    "resume_run": "tidal.runtime._run",
    "run_pipeline": "tidal.runtime._run",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from tidal.runtime._current import NodeContext, current_node
    from tidal.runtime._events import RunEvent
    from tidal.runtime._executor import Executor, InlineExecutor, LocalExecutor, make_executor
    from tidal.runtime._preflight import check_code_allowed, code_nodes, parse_override
    from tidal.runtime._ray_executor import RayExecutor
    from tidal.runtime._ray_partitions import ray_data_steps
    from tidal.runtime._result import RunResult, effective_status
    from tidal.runtime._run import resume_run, run_pipeline
    from tidal.runtime._worker import NodeTask, TaskResult

__all__ = [
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "NodeContext",
    "NodeTask",
    "RayExecutor",
    "RunEvent",
    "RunResult",
    "TaskResult",
    "check_code_allowed",
    "code_nodes",
    "current_node",
    "effective_status",
    "make_executor",
    "parse_override",
    "ray_data_steps",
    "resume_run",
    "run_pipeline",
]
