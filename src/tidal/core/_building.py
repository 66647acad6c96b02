"""The seam between components and the pipeline being built (``with Pipeline(...)``).

A component called inside ``with Pipeline(...)`` must add a node instead of running. The core
cannot import the pipeline layer, so the pipeline layer pushes a *recorder* here when a ``with``
block opens, and a component call asks for the innermost one.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tidal.core._component import ComponentSpec


class CallRecorder(Protocol):
    """Whatever turns a component call into a node (the pipeline layer's builder)."""

    def add_call(self, spec: ComponentSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...


_recorders: ContextVar[tuple[CallRecorder, ...]] = ContextVar("tidal_call_recorders", default=())


def push_recorder(recorder: CallRecorder) -> None:
    _recorders.set((*_recorders.get(), recorder))


def pop_recorder(owner: Any) -> None:
    """Remove the innermost recorder when it belongs to ``owner`` (the object whose ``with`` block ends)."""
    stack = _recorders.get()
    if stack and getattr(stack[-1], "owner", stack[-1]) is owner:
        _recorders.set(stack[:-1])


def current_recorder() -> CallRecorder | None:
    stack = _recorders.get()
    return stack[-1] if stack else None
