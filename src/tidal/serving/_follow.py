"""Following a registered model: a served model that moves to each version the registry points at.

A model served as ``models:/NAME`` (the newest version) or ``models:/NAME@ALIAS`` with ``follow``
on is watched by a background task of the server. Every ``interval_s`` seconds it asks the
registry which version the URI points at now (one metadata query,
:meth:`ModelRegistry.current_version`); when that is not the version being served, it loads the
new one off the serving path and swaps it in (:meth:`ModelRepository.load`, exclusive), so
requests go on being answered by the old version until the new one has loaded.

A version that fails to load is logged, counted (``tidal_follow_failures_total``), kept with its
reason in the repository (``/v2/repository/index``: ``UNAVAILABLE``; ``/v2/models/NAME/versions/V/ready``)
and not tried again until the registry points elsewhere; the old version keeps serving. A failed
poll (the database unreachable) is logged and counted (``tidal_follow_poll_errors_total``) and
retried at the next interval. A server started before the model has any version waits for the
first one (not ready until then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tidal.core._errors import TidalError
from tidal.serving._repository import LoadFailed, ModelRepository, ModelSpec

if TYPE_CHECKING:
    from tidal.models._registry import ModelReference

log = logging.getLogger("tidal.serving.follow")


def log_to_stderr() -> None:
    """Swaps and failures on stderr as ``tidal: following ...`` lines (the CLI's server; once per process)."""
    import sys

    if not any(getattr(handler, "tidal_follow", False) for handler in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("tidal: %(message)s"))
        handler.tidal_follow = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def followed_reference(spec: ModelSpec) -> ModelReference:
    """The registry URI a followed spec watches; refused (naming the spec) when it names no moving target."""
    from tidal.models._registry import parse_model_uri

    if not spec.source.startswith("models:/"):
        raise TidalError(f"model '{spec.name}' cannot follow the registry: its source {spec.source} is a package path; "
                         "serve models:/NAME (the newest version) or models:/NAME@ALIAS to follow")
    reference = parse_model_uri(spec.source)
    if reference.version is not None:
        raise TidalError(f"model '{spec.name}' cannot follow the registry: {spec.source} names one version; "
                         f"serve models:/{reference.name} (the newest version) or models:/{reference.name}@ALIAS to follow")
    return reference


def check_followed(specs: list[ModelSpec]) -> None:
    """Every followed spec watches a moving registry URI and is its model's only source."""
    problems = []
    for spec in specs:
        if not spec.follow:
            continue
        try:
            followed_reference(spec)
        except TidalError as error:
            problems.append(str(error))
        if sum(1 for other in specs if other.name == spec.name) > 1:
            problems.append(f"model '{spec.name}' follows the registry, so it has one source: the newest version "
                            "replaces the served one (split traffic between pinned versions without follow)")
    if problems:
        raise TidalError("; ".join(dict.fromkeys(problems)))


class RegistryFollower:
    """The background task that keeps followed models on the version their registry URI points at."""

    def __init__(self, repository: ModelRepository, specs: list[ModelSpec], interval_s: float) -> None:
        if interval_s <= 0:
            raise TidalError(f"the follow interval must be more than 0 seconds, got {interval_s:g}")
        if repository.workspace is None:
            names = ", ".join(spec.name for spec in specs)
            raise TidalError(f"following the registry ({names}) needs the server's workspace: give --workspace "
                             "or run the server where the registry lives")
        self.repository = repository
        self.specs = [spec for spec in specs if spec.follow]
        self.references = {spec.name: followed_reference(spec) for spec in self.specs}
        self.interval_s = interval_s
        self.failed: dict[str, int] = {}  # the version that failed to load, per model: not tried again until the URI moves
        self._registry: Any = None
        self._task: asyncio.Task[None] | None = None

    # -- the task ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.specs and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tidal-follow")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.poll()

    # -- one round ---------------------------------------------------------------------------------
    def _current(self, name: str) -> int | None:
        if self._registry is None:
            from tidal.models._registry import ModelRegistry

            self._registry = ModelRegistry(self.repository.workspace)  # type: ignore[arg-type]
        return self._registry.current_version(self.references[name])  # type: ignore[no-any-return]

    def served(self, name: str) -> str | None:
        model = self.repository.models.get(name)
        if model is None or not model.versions:
            return None
        return model.default_version() if len(model.versions) > 1 else next(iter(model.versions))

    async def poll(self) -> list[str]:
        """Check every followed model once; returns the versions swapped in, as NAME/VERSION."""
        loop = asyncio.get_running_loop()
        metrics = self.repository.metrics
        swapped = []
        for spec in self.specs:
            name, reference = spec.name, self.references[spec.name]
            try:
                target = await loop.run_in_executor(None, self._current, name)
            except Exception as error:  # the registry is unreachable now: keep serving, try again next time
                metrics.follow_errors.labels(name).inc()
                log.warning("following %s: the registry could not be read (%s: %s); %s keeps serving version %s",
                            reference, type(error).__name__, error, name, self.served(name))
                continue
            if target is None:
                continue
            metrics.follow_target.labels(name).set(target)
            current = self.served(name)
            if current == str(target):
                self.failed.pop(name, None)
                continue
            if self.failed.get(name) == target:
                continue
            pinned = replace(spec, source=f"models:/{reference.name}/{target}", version=str(target), weight=100.0)
            try:
                loaded = await self.repository.load(pinned, exclusive=True)
            except LoadFailed as error:
                self.failed[name] = target
                metrics.follow_failures.labels(name).inc()
                log.error("following %s: version %s failed to load, %s keeps serving version %s: %s",
                          reference, target, name, current, error)
                continue
            self.failed.pop(name, None)
            metrics.follow_swaps.labels(name).inc()
            log.info("following %s: %s now serves version %s (was %s; loaded in %.3fs)",
                        reference, name, loaded.version, current, loaded.load_seconds)
            swapped.append(f"{name}/{loaded.version}")
        return swapped
