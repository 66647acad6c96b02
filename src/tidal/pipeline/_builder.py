"""The Python DSL: component calls inside ``with Pipeline(...)`` add nodes and return handles."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidal.pipeline._graph import Pipeline, Ref

if TYPE_CHECKING:
    from tidal.core._component import ComponentSpec

_stack: ContextVar[tuple[Pipeline, ...]] = ContextVar("tidal_pipelines", default=())

#: keyword arguments every component call accepts inside a pipeline
NODE_OPTIONS = ("_id", "_cache", "_retries", "_timeout")


def push_pipeline(pipeline: Pipeline) -> None:
    _stack.set((*_stack.get(), pipeline))


def pop_pipeline(pipeline: Pipeline) -> None:
    stack = _stack.get()
    if stack and stack[-1] is pipeline:
        _stack.set(stack[:-1])


def current_pipeline() -> Builder | None:
    stack = _stack.get()
    return Builder(stack[-1]) if stack else None


@dataclass(frozen=True)
class OutputHandle:
    """A node's output inside a pipeline being built; pass it to another component call."""

    pipeline: Pipeline
    node: str
    port: str
    type: str

    @property
    def ref(self) -> Ref:
        return Ref(self.node, self.port)

    def __repr__(self) -> str:
        return f"<{self.type} {self.node}.{self.port}>"


class NodeHandle:
    """The result of adding a node: its outputs as attributes (``split.train``)."""

    def __init__(self, pipeline: Pipeline, node: str, outputs: dict[str, OutputHandle]) -> None:
        self.pipeline = pipeline
        self.node = node
        self.outputs = outputs

    def __getattr__(self, name: str) -> OutputHandle:
        try:
            return self.__dict__["outputs"][name]
        except KeyError:
            raise AttributeError(f"node '{self.node}' has no output '{name}' (outputs: {', '.join(self.outputs)})") from None

    def __iter__(self) -> Any:
        return iter(self.outputs.values())

    def __repr__(self) -> str:
        return f"<node {self.node}: {', '.join(self.outputs)}>"


class Builder:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def add_call(self, spec: ComponentSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        options = {key: kwargs.pop(key) for key in NODE_OPTIONS if key in kwargs}
        inputs, params = spec.bind(args, kwargs)
        refs: dict[str, Ref] = {}
        for port, value in inputs.items():
            if value is None:
                continue
            if isinstance(value, OutputHandle):
                # a single-output node is referenced by its id alone, as in the YAML
                source = self.pipeline.nodes[value.node]
                from tidal.core._registry import registry

                source_spec = registry.find(source.component)
                single = source_spec is not None and len(source_spec.outputs) == 1
                refs[port] = Ref(value.node, None if single else value.port)
            else:
                raise TypeError(
                    f"{spec.id}: input '{port}' inside a pipeline must be another node's output, "
                    f"got {type(value).__name__}"
                )
        node = self.pipeline.add(
            spec.id,
            options.get("_id"),
            inputs=refs,
            params=params,
            cache=options.get("_cache", True),
            retries=options.get("_retries", 0),
        )
        node.timeout = options.get("_timeout")
        handles = {port.name: OutputHandle(self.pipeline, node.id, port.name, port.type) for port in spec.outputs}
        if len(handles) == 1:
            return next(iter(handles.values()))
        return NodeHandle(self.pipeline, node.id, handles)
