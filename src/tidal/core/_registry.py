"""The component registry: built-in components plus plug-ins from the ``tidal.components`` entry points."""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import pkgutil
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from tidal.core._errors import NotFound, TidalError

if TYPE_CHECKING:
    from tidal.core._component import ComponentSpec

ENTRY_POINT_GROUP = "tidal.components"
#: comma-separated modules to import as local components
PLUGINS_VARIABLE = "TIDAL_PLUGINS"
log = logging.getLogger(__name__)


#: the package whose public modules hold Tidal's own components
BUILTIN_PACKAGE = "tidal.components"
#: in that package: which module defines each built-in component, so that finding one imports one module
#: (written by ``scripts/write_component_index.py``; a test keeps it current)
INDEX_FILE = "_index.json"


def read_index() -> dict[str, str]:
    """The built-in components' index (id -> module); empty when it is missing or unreadable."""
    import importlib.util
    import json

    found = importlib.util.find_spec(BUILTIN_PACKAGE)
    for folder in (found.submodule_search_locations or []) if found is not None else []:
        try:
            with open(os.path.join(folder, INDEX_FILE), encoding="utf-8") as handle:
                index = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(index, dict):
            return {str(key): str(value) for key, value in index.items()}
    return {}


class Registry:
    """Maps component ids to their specs. Built-ins and plug-ins load on first use."""

    def __init__(self) -> None:
        self._components: dict[str, ComponentSpec] = {}
        self._loaded = False
        self._loading = False
        self._index: dict[str, str] | None = None
        #: entry point (or TIDAL_PLUGINS module) name -> "ErrorType: message", for plug-ins that failed to load
        self.plugin_errors: dict[str, str] = {}
        #: entry point name -> the distribution that declares it
        self.plugin_distributions: dict[str, str] = {}
        #: component id -> "tidal", the distribution that registered it, or the TIDAL_PLUGINS module
        self.origins: dict[str, str] = {}
        self._seen_entry_points: set[tuple[str, str]] = set()

    def add(self, spec: ComponentSpec) -> None:
        self.load()  # built-ins first, so a clash is reported on the newcomer
        existing = self._components.get(spec.id)
        if existing is not None and _origin(existing) != _origin(spec):
            raise TidalError(
                f"component id '{spec.id}' is registered twice: by {_origin(existing)} and by {_origin(spec)}; "
                "ids must be unique, so rename one of them"
            )
        self._components[spec.id] = spec

    def load(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            # the library sits above the core: it is found by name, like any plug-in
            builtin = importlib.import_module(BUILTIN_PACKAGE)
            for module in pkgutil.iter_modules(builtin.__path__):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{builtin.__name__}.{module.name}")
            for spec_id in self._components:
                self.origins.setdefault(spec_id, "tidal")
            for module_name in filter(None, os.environ.get(PLUGINS_VARIABLE, "").split(",")):
                self._load_local(module_name.strip())
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                self._load_entry_point(entry)
            self._loaded = True
        finally:
            self._loading = False

    def preload(self, modules: list[str]) -> None:
        """Import these component modules now, without loading the rest (a worker warming up before its
        first node); a module that fails to import is left for the node that needs it to report."""
        self._loading = True
        try:
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception as error:
                    log.debug("preloading %s: %s", name, error)
        finally:
            self._loading = False

    def load_new_plugins(self) -> list[str]:
        """Load entry points installed since the registry loaded (e.g. by ``tidal market install``); their names."""
        if not self._loaded:
            self.load()
            return sorted(self.plugin_distributions)
        importlib.invalidate_caches()
        fresh = [entry for entry in entry_points(group=ENTRY_POINT_GROUP) if _entry_key(entry) not in self._seen_entry_points]
        self._loading = True
        try:
            for entry in fresh:
                self._load_entry_point(entry)
        finally:
            self._loading = False
        return [entry.name for entry in fresh]

    def _load_entry_point(self, entry: EntryPoint) -> None:
        self._seen_entry_points.add(_entry_key(entry))
        distribution = entry.dist.name if entry.dist else entry.name
        self.plugin_distributions[entry.name] = distribution
        before = set(self._components)
        try:
            loaded = entry.load()
            if callable(loaded) and not hasattr(loaded, "__path__"):
                loaded()
        except Exception as error:  # a broken plug-in must not take the platform down
            self.plugin_errors[entry.name] = f"{type(error).__name__}: {error}"
            log.warning("plug-in %s failed to load: %s", entry.name, error)
            return
        self.plugin_errors.pop(entry.name, None)
        for spec_id in set(self._components) - before:
            self.origins[spec_id] = distribution

    def _load_local(self, module_name: str) -> None:
        """A module named in TIDAL_PLUGINS: components of your own, without packaging them."""
        before = set(self._components)
        try:
            importlib.import_module(module_name)
        except Exception as error:
            self.plugin_errors[module_name] = f"{type(error).__name__}: {error}"
            log.warning("%s module %s failed to load: %s", PLUGINS_VARIABLE, module_name, error)
            return
        for spec_id in set(self._components) - before:
            self.origins[spec_id] = module_name

    def built_in_module(self, component_id: str) -> str | None:
        """The module that defines built-in component ``component_id``, by the index (None: not in it)."""
        if self._index is None:
            self._index = read_index()
        return self._index.get(component_id)

    def built_in_index(self) -> dict[str, str]:
        """id -> module of every built-in component, from the loaded registry (what the index file holds)."""
        self.load()
        prefix = BUILTIN_PACKAGE + "."
        return {spec_id: spec.func.__module__ for spec_id, spec in sorted(self._components.items())
                if spec.func.__module__.startswith(prefix)}

    def get(self, component_id: str, module: str | None = None) -> ComponentSpec:
        """The component with this id; ``module`` (where it is defined) avoids loading everything."""
        if module is None and not self._loaded:
            module = self.built_in_module(component_id)
        if module is not None and not self._loaded and component_id not in self._components:
            self._loading = True
            try:
                importlib.import_module(module)
            except ImportError:
                pass
            finally:
                self._loading = False
        if component_id in self._components and (self._loaded or module is not None):
            return self._components[component_id]
        self.load()
        try:
            return self._components[component_id]
        except KeyError:
            failed = self.failed_plugin_for(component_id)
            if failed is not None:
                name, error = failed
                raise NotFound(
                    f"component '{component_id}' cannot be used: plug-in {name} failed to load: {error}; "
                    f"fix or reinstall it (`tidal market show {self.plugin_distributions.get(name, name)}` shows its state)"
                ) from None
            close = difflib.get_close_matches(component_id, list(self._components), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `tidal components list`"
            broken = "".join(f"; plug-in {name} failed to load ({error}) and may be the one that provides it"
                             for name, error in self.plugin_errors.items())
            raise NotFound(f"unknown component '{component_id}'{hint}{broken}") from None

    def failed_plugin_for(self, component_id: str) -> tuple[str, str] | None:
        """The plug-in that failed to load and would provide ``component_id``: (name, error), or None.

        A plug-in's entry point is named after its category (the convention ``tidal components new``
        follows), or its distribution's name is the category with ``-``/``.`` for ``_``.
        """
        category = component_id.split(".", 1)[0]
        for name, error in self.plugin_errors.items():
            distribution = self.plugin_distributions.get(name, "")
            if category in (name, _normalized(distribution), _normalized(distribution).removeprefix("tidal_")):
                return name, error
        return None

    def find(self, component_id: str) -> ComponentSpec | None:
        """The component with this id, or None. A built-in one is found by importing its module alone."""
        if not self._loaded:
            module = self.built_in_module(component_id)
            if module is not None:
                if component_id not in self._components:
                    self.preload([module])
                if component_id in self._components:
                    return self._components[component_id]
        self.load()
        return self._components.get(component_id)

    def suggestions(self, component_id: str) -> list[str]:
        self.load()
        return difflib.get_close_matches(component_id, list(self._components), n=3)

    def all(self) -> list[ComponentSpec]:
        self.load()
        return sorted(self._components.values(), key=lambda spec: spec.id)

    def __contains__(self, component_id: str) -> bool:
        self.load()
        return component_id in self._components

    def __len__(self) -> int:
        self.load()
        return len(self._components)


def _entry_key(entry: EntryPoint) -> tuple[str, str]:
    return (entry.dist.name if entry.dist else "", entry.name)


def _normalized(name: str) -> str:
    return "".join("_" if char in "-." else char for char in name.lower())


def _origin(spec: ComponentSpec) -> str:
    return f"{spec.func.__module__}.{spec.func.__qualname__}"


registry = Registry()


def get_component(component_id: str) -> ComponentSpec:
    """The registered component with this id."""
    return registry.get(component_id)
