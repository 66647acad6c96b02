"""The pipeline graph: nodes, their input references and parameters."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from tidal.core._display import Displayable
from tidal.core._resources import Resources

FORMAT_VERSION = 1


#: the scheme of a model registry reference given as a node input
MODEL_SCHEME = "models:/"


@dataclass(frozen=True)
class Ref:
    """What feeds a node input: another node's output, ``node`` (its only output) or ``node.port``;
    or a registered model, ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/NAME``
    (then ``node`` is empty and ``model`` holds the reference, resolved by the registry at run time).
    """

    node: str
    port: str | None = None
    model: str | None = None

    @classmethod
    def parse(cls, text: str) -> Ref:
        text = str(text)
        if text.startswith(MODEL_SCHEME):
            return cls("", None, text)
        node, _, port = text.partition(".")
        return cls(node, port or None)

    @classmethod
    def registered(cls, uri: str) -> Ref:
        """A reference to a registered model (``models:/...``)."""
        return cls("", None, str(uri))

    def __str__(self) -> str:
        if self.model is not None:
            return self.model
        return self.node if self.port is None else f"{self.node}.{self.port}"


@dataclass
class Node:
    """One step of a pipeline."""

    id: str
    component: str
    inputs: dict[str, Ref] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    cache: bool = True
    retries: int = 0
    timeout: float | None = None
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: what one run of this node needs, over its component's defaults (key by key)
    resources: Resources | None = None
    #: "auto": a data step runs per partition where the executor can spread it (Ray); "off": one query
    partitions: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "component": self.component}
        if self.title:
            data["title"] = self.title
        if self.inputs:
            data["inputs"] = {port: str(ref) for port, ref in self.inputs.items()}
        if self.params:
            data["params"] = copy.deepcopy(self.params)
        if not self.cache:
            data["cache"] = False
        if self.retries:
            data["retries"] = self.retries
        if self.timeout is not None:
            data["timeout"] = self.timeout
        if self.resources is not None:
            data["resources"] = self.resources.to_dict()
        if self.partitions != "auto":
            data["partitions"] = self.partitions
        data.update(copy.deepcopy(self.extra))
        return data


@dataclass
class Pipeline(Displayable):
    """A DAG of component nodes; canonical form is the YAML file (see :mod:`tidal.pipeline`).

    Used as a context manager, calls to components inside the ``with`` block add nodes::

        with Pipeline("churn") as p:
            table = read_csv(path="data/churn.csv")
            parts = split(table, fraction=0.8)
    """

    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    description: str | None = None
    layout: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    # -- building -----------------------------------------------------------------------------
    def add(
        self,
        component: str,
        id: str | None = None,
        *,
        inputs: Mapping[str, str | Ref] | None = None,
        params: dict[str, Any] | None = None,
        cache: bool = True,
        retries: int = 0,
        resources: Resources | dict[str, Any] | None = None,
        partitions: str = "auto",
    ) -> Node:
        from tidal.core._resources import as_resources

        node_id = id or self.fresh_id(component.split(".")[-1])
        if node_id in self.nodes:
            raise ValueError(f"pipeline '{self.name}' already has a node '{node_id}'")
        if partitions not in ("auto", "off"):
            raise ValueError(f"node '{node_id}': partitions must be 'auto' or 'off', not {partitions!r}")
        refs = {port: ref if isinstance(ref, Ref) else Ref.parse(ref) for port, ref in (inputs or {}).items()}
        node = Node(node_id, component, refs, dict(params or {}), cache, retries,
                    resources=as_resources(resources, f"node '{node_id}'"), partitions=partitions)
        self.nodes[node_id] = node
        return node

    def fresh_id(self, base: str) -> str:
        if base not in self.nodes:
            return base
        index = 2
        while f"{base}_{index}" in self.nodes:
            index += 1
        return f"{base}_{index}"

    def __enter__(self) -> Pipeline:
        from tidal.pipeline._builder import push_pipeline

        push_pipeline(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        from tidal.pipeline._builder import pop_pipeline

        pop_pipeline(self)

    # -- graph ----------------------------------------------------------------------------------
    def upstream(self, node_id: str) -> set[str]:
        return {ref.node for ref in self.nodes[node_id].inputs.values() if ref.node in self.nodes}

    def downstream(self, node_id: str) -> set[str]:
        return {other.id for other in self.nodes.values() if node_id in self.upstream(other.id)}

    def topological_order(self) -> list[str]:
        """Node ids in dependency order; raises graphlib.CycleError on a cycle."""
        sorter = TopologicalSorter({node_id: self.upstream(node_id) for node_id in self.nodes})
        return list(sorter.static_order())

    def find_cycle(self) -> list[str] | None:
        try:
            self.topological_order()
        except CycleError as error:
            return list(error.args[1])
        return None

    def ancestors(self, node_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            for parent in self.upstream(stack.pop()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def descendants(self, node_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            for child in self.downstream(stack.pop()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def subset(self, keep: set[str]) -> Pipeline:
        """A copy holding only ``keep`` (e.g. "run up to a node": the node and its ancestors)."""
        copied = copy.deepcopy(self)
        copied.nodes = {node_id: node for node_id, node in copied.nodes.items() if node_id in keep}
        copied.layout = {node_id: pos for node_id, pos in copied.layout.items() if node_id in keep}
        return copied

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        if node_id not in self.nodes:
            from tidal.core._errors import TidalError

            raise TidalError(f"--set {node_id}.{name}: there is no node '{node_id}' (nodes: {', '.join(self.nodes)})")
        self.nodes[node_id].params[name] = value

    # -- formats -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"tidal": FORMAT_VERSION, "name": self.name}
        if self.description:
            data["description"] = self.description
        data["nodes"] = [node.to_dict() for node in self.nodes.values()]
        if self.layout:
            data["layout"] = {node_id: list(position) for node_id, position in self.layout.items()}
        data.update(copy.deepcopy(self.extra))
        return data

    def to_yaml(self) -> str:
        from tidal.pipeline._yaml import dump_yaml

        return dump_yaml(self)

    def save(self, path: str | Path) -> Path:
        from tidal.pipeline._yaml import save_pipeline

        return save_pipeline(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        from tidal.pipeline._yaml import load_pipeline

        return load_pipeline(path)

    @classmethod
    def from_yaml(cls, text: str, source: str | Path | None = None) -> Pipeline:
        from tidal.pipeline._yaml import parse_pipeline

        return parse_pipeline(text, source)

    def validate(self) -> list[Any]:
        from tidal.pipeline._validate import validate

        return validate(self)

