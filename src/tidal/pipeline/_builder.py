"""The Python DSL: component calls inside ``with Pipeline(...)`` add nodes and return handles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidal.core._building import current_recorder, pop_recorder, push_recorder
from tidal.pipeline._graph import MODEL_SCHEME, Pipeline, Ref

if TYPE_CHECKING:
    from tidal.core._component import ComponentSpec

#: keyword arguments every component call accepts inside a pipeline
NODE_OPTIONS = ("_id", "_cache", "_retries", "_timeout", "_resources", "_partitions")


def push_pipeline(pipeline: Pipeline) -> None:
    push_recorder(Builder(pipeline))


def pop_pipeline(pipeline: Pipeline) -> None:
    pop_recorder(pipeline)


def current_pipeline() -> Builder | None:
    recorder = current_recorder()
    return recorder if isinstance(recorder, Builder) else None


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
    """Turns component calls inside ``with Pipeline(...)`` into nodes (the core's call recorder)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.owner = pipeline

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
            elif isinstance(value, str) and value.startswith(MODEL_SCHEME):
                refs[port] = Ref.registered(value)  # a registered model: resolved when the pipeline runs
            else:
                raise TypeError(
                    f"{spec.id}: input '{port}' inside a pipeline must be another node's output "
                    f"(or, for a model, 'models:/NAME@ALIAS'), got {type(value).__name__}"
                )
        node = self.pipeline.add(
            spec.id,
            options.get("_id"),
            inputs=refs,
            params=params,
            cache=options.get("_cache", True),
            retries=options.get("_retries", 0),
            resources=options.get("_resources"),
            partitions=options.get("_partitions", "auto"),
        )
        node.timeout = options.get("_timeout")
        handles = {port.name: OutputHandle(self.pipeline, node.id, port.name, port.type) for port in spec.outputs}
        if len(handles) == 1:
            return next(iter(handles.values()))
        return NodeHandle(self.pipeline, node.id, handles)
