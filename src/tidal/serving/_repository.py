"""The models a server holds: several models, several versions each, traffic weights, hot swap.

Loading happens off the serving path; a version only receives traffic once it has loaded, so a
swap never fails a request. A version that fails to load leaves what was serving untouched and
keeps its error for ``/v2/models/NAME/versions/V/ready`` and the repository index.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidal.core._errors import NotFound, TidalError
from tidal.serving._batching import Batcher, BatchingConfig, Stopped
from tidal.serving._processors import Processor, load_processor

if TYPE_CHECKING:
    from tidal.serving._metrics import ServerMetrics
    from tidal.store import Workspace


class LoadFailed(TidalError):
    """A model version could not be loaded; whatever was serving keeps serving."""


@dataclass
class ModelSpec:
    """One model version to serve: where it comes from, its label and its share of traffic."""

    name: str
    source: str
    version: str | None = None
    weight: float = 100.0
    trust: bool = False
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    follow: bool = False  # models:/NAME or models:/NAME@ALIAS: swap to each version it points at (serving/_follow.py)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "version": self.version, "weight": self.weight,
                "trust": self.trust, "batching": vars(self.batching), "follow": self.follow}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        values = dict(data)
        values["batching"] = BatchingConfig(**values.get("batching", {}))
        return cls(**values)


@dataclass
class LoadedVersion:
    name: str
    version: str
    source: str
    processor: Processor
    batcher: Batcher
    load_seconds: float


@dataclass
class ServedModel:
    name: str
    versions: dict[str, LoadedVersion] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return any(weight > 0 for version, weight in self.weights.items() if version in self.versions)

    def default_version(self) -> str:
        return max(self.versions, key=_version_key)


def _version_key(version: str) -> tuple[int, Any]:
    return (0, int(version)) if version.isdigit() else (1, version)


def resolve_source(source: str, version: str | None, workspace: Workspace | None) -> tuple[Path, str]:
    """A local package path and the version label (the registry's number for ``models:/`` URIs)."""
    if source.startswith("models:/"):
        from tidal.models._registry import ModelRegistry
        from tidal.store import Workspace

        registry = ModelRegistry(workspace or Workspace.open())
        found = registry.resolve(source)
        return registry.workspace.artifacts.local_path(found.uri), version or str(found.version)
    path = Path(source)
    if not path.exists():
        raise NotFound(f"no model package at {path}; give a package folder or archive, or models:/NAME@ALIAS")
    return path, version or "1"


class ModelRepository:
    def __init__(self, metrics: ServerMetrics, workspace: Workspace | None = None) -> None:
        self.metrics = metrics
        self.workspace = workspace
        self.models: dict[str, ServedModel] = {}
        self._lock = threading.Lock()

    # -- loading -----------------------------------------------------------------------------------
    def _build(self, spec: ModelSpec) -> LoadedVersion:
        started = time.perf_counter()
        try:
            path, version = resolve_source(spec.source, spec.version, self.workspace)
        except TidalError as error:
            self._record_failure(spec.name, spec.version or "?", str(error))
            raise LoadFailed(f"model '{spec.name}' could not be loaded from {spec.source}: {error}") from None
        try:
            processor = load_processor(path, trust=spec.trust)
        except Exception as error:
            self._record_failure(spec.name, version, f"{type(error).__name__}: {error}" if not isinstance(error, TidalError) else str(error))
            raise LoadFailed(f"model '{spec.name}' version {version} could not be loaded from {spec.source}: {error}") from None
        seconds = time.perf_counter() - started
        name = spec.name

        def observe(rows: int, requests: int, took: float) -> None:
            self.metrics.observe_batch(name, version, rows, requests, took)

        batcher = Batcher(processor.predict, spec.batching, observe)
        self.metrics.load_seconds.labels(name, version).set(seconds)
        return LoadedVersion(name, version, spec.source, processor, batcher, seconds)

    def _record_failure(self, name: str, version: str, reason: str) -> None:
        with self._lock:
            self.models.setdefault(name, ServedModel(name)).failures[version] = reason

    def _install(self, loaded: LoadedVersion, weight: float | None, exclusive: bool) -> list[LoadedVersion]:
        """Put a loaded version into service; returns versions it replaced (to stop them)."""
        with self._lock:
            model = self.models.setdefault(loaded.name, ServedModel(loaded.name))
            previous = model.versions.get(loaded.version)
            replaced = [previous] if previous is not None and previous is not loaded else []
            versions = dict(model.versions)
            versions[loaded.version] = loaded
            weights = dict(model.weights)
            if exclusive:
                replaced += [item for key, item in versions.items() if key != loaded.version]
                versions = {loaded.version: loaded}
                weights = {loaded.version: 100.0}
            else:
                weights[loaded.version] = 100.0 if weight is None else float(weight)
            # swap both maps in one step: a request sees the old set or the new one, never a mix
            model.versions, model.weights = versions, weights
            model.failures.pop(loaded.version, None)
            model.failures.pop("?", None)  # a source that could not be resolved at all (a followed model with no version yet)
            self.metrics.loaded.labels(loaded.name, loaded.version).set(1)
        for item in replaced:
            self.metrics.loaded.labels(item.name, item.version).set(0)
        return replaced

    def load_sync(self, spec: ModelSpec, *, exclusive: bool = False) -> LoadedVersion:
        """Load now, in this thread (server start-up)."""
        loaded = self._build(spec)
        self._install(loaded, spec.weight, exclusive)
        return loaded

    async def load(self, spec: ModelSpec, *, exclusive: bool = False) -> LoadedVersion:
        """Load off the event loop, then switch traffic; replaced versions finish their queue first."""
        loaded = await asyncio.get_running_loop().run_in_executor(None, self._build, spec)
        for item in self._install(loaded, spec.weight, exclusive):
            asyncio.get_running_loop().create_task(item.batcher.stop())
        return loaded

    async def unload(self, name: str, version: str | None = None) -> None:
        model = self.get(name)
        with self._lock:
            targets = [version] if version is not None else list(model.versions)
            for target in targets:
                if target not in model.versions:
                    raise NotFound(f"model '{name}' has no loaded version '{target}'")
            versions = {key: item for key, item in model.versions.items() if key not in targets}
            weights = {key: weight for key, weight in model.weights.items() if key not in targets}
            stopped = [model.versions[key] for key in targets]
            model.versions, model.weights = versions, weights
            if not versions:
                self.models.pop(name, None)
        for item in stopped:
            self.metrics.loaded.labels(item.name, item.version).set(0)
            await item.batcher.stop()

    def set_traffic(self, name: str, weights: dict[str, float]) -> None:
        model = self.get(name)
        problems = [f"version '{key}' is not loaded" for key in weights if key not in model.versions]
        problems += [f"version '{key}' has a negative weight" for key, value in weights.items() if value < 0]
        if not problems and sum(weights.values()) <= 0:
            problems.append("the weights must add up to more than 0")
        if problems:
            raise TidalError(f"cannot split traffic of '{name}': {'; '.join(problems)} "
                             f"(loaded: {', '.join(model.versions)})")
        with self._lock:
            model.weights = {key: float(weights.get(key, 0.0)) for key in model.versions}

    async def submit(self, loaded: LoadedVersion, version: str | None,
                     columns_for: Callable[[LoadedVersion], tuple[Any, int]]) -> tuple[LoadedVersion, dict[str, Any]]:
        """Run a request on ``loaded`` (what :meth:`pick` gave); the version that answered and its outputs.

        A hot swap can stop the picked version between the pick and the submit (the request was
        reading its body): it is then sent once to the version now in its place, so a swap fails
        no request. ``columns_for`` reads the request against a version's signature.
        """
        for attempt in range(2):
            if loaded.processor.signature.images is not None:  # decoding images takes milliseconds: off the loop
                columns, rows = await asyncio.to_thread(columns_for, loaded)
            else:
                columns, rows = columns_for(loaded)
            self.metrics.set_queue_depth(loaded.name, loaded.version, loaded.batcher.depth)
            try:
                return loaded, await loaded.batcher.submit(columns, rows)
            except Stopped:
                replacement = self.pick(loaded.name, version)
                if attempt or replacement is loaded:
                    raise
                loaded = replacement
        raise AssertionError("unreachable")  # pragma: no cover

    # -- finding -----------------------------------------------------------------------------------
    def get(self, name: str) -> ServedModel:
        model = self.models.get(name)
        if model is None or not model.versions:
            known = ", ".join(sorted(key for key, item in self.models.items() if item.versions)) or "none"
            raise NotFound(f"no model '{name}' is served here (served: {known})")
        return model

    def pick(self, name: str, version: str | None = None) -> LoadedVersion:
        model = self.get(name)
        versions = model.versions
        if version is not None:
            found = versions.get(version)
            if found is None:
                reason = model.failures.get(version)
                detail = f": it failed to load ({reason})" if reason else f"; loaded: {', '.join(versions)}"
                raise NotFound(f"model '{name}' has no version '{version}'{detail}")
            return found
        weights = model.weights
        if len(versions) == 1:
            return next(iter(versions.values()))
        keys = [key for key in versions if weights.get(key, 0) > 0]
        if not keys:
            raise NotFound(f"model '{name}' has no version with traffic; set weights with the traffic API")
        chosen = random.choices(keys, weights=[weights[key] for key in keys])[0]
        return versions[chosen]

    def index(self) -> list[dict[str, Any]]:
        rows = []
        for name, model in sorted(self.models.items()):
            for version, item in sorted(model.versions.items()):
                rows.append({"name": name, "version": version, "state": "READY", "reason": "",
                             "weight": model.weights.get(version, 0.0), "source": item.source})
            for version, reason in sorted(model.failures.items()):
                rows.append({"name": name, "version": version, "state": "UNAVAILABLE", "reason": reason})
        return rows

    async def stop(self) -> None:
        for model in list(self.models.values()):
            for item in list(model.versions.values()):
                await item.batcher.stop()
