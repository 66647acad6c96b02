"""skops, imported without its import-time trip through PyTorch.

``import skops.io`` builds skops's default allow-list of scikit-learn estimators at import time
with ``sklearn.utils.all_estimators()``. That walks every package under ``sklearn`` and imports
each one to descend into it, ``sklearn.externals.array_api_compat.torch`` included, which imports
PyTorch where it is installed: 2.5 of the 3.8 s that importing skops took in every pipeline worker
that saved a scikit-learn model (measured, 2 cores). The packages it walks into this way
(``externals``, ``tests``, ``experimental`` ...) are the ones ``all_estimators`` then ignores, so
the list does not depend on them.

:func:`skops_io` imports skops with ``all_estimators`` swapped, for that one import, for a walk that
does not descend into the ignored packages. Everything else is scikit-learn's own rule, and a test
checks that skops's allow-list comes out exactly as the unpatched import builds it.
"""

from __future__ import annotations

import inspect
import pkgutil
import sys
import threading
from importlib import import_module
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()


def _public_modules(path: list[str], prefix: str, ignored: frozenset[str]) -> Any:
    """Names of the modules ``all_estimators`` reads, walked without importing ignored packages."""
    for info in pkgutil.iter_modules(path, prefix):
        name = info.name
        if any(part in ignored for part in name.split(".")) or "._" in name:
            continue  # neither this module nor anything under it is read
        yield name
        if info.ispkg:
            package = import_module(name)
            yield from _public_modules(list(getattr(package, "__path__", [])), name + ".", ignored)


def all_estimators_without_side_trips() -> list[tuple[str, type]]:
    """``sklearn.utils.all_estimators()`` (no filter): the same list, without importing ignored packages."""
    import warnings

    import sklearn
    from sklearn.base import BaseEstimator
    from sklearn.utils import discovery

    ignored = frozenset(discovery._MODULE_TO_IGNORE)
    classes: set[tuple[str, type]] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for name in _public_modules(list(sklearn.__path__), "sklearn.", ignored):
            module = import_module(name)
            classes.update((member, cls) for member, cls in inspect.getmembers(module, inspect.isclass)
                           if not member.startswith("_"))
    estimators = [(name, cls) for name, cls in classes
                  if issubclass(cls, BaseEstimator) and name != "BaseEstimator" and not getattr(cls, "__abstractmethods__", None)]
    return sorted(set(estimators), key=lambda item: item[0])


def skops_io() -> ModuleType:
    """The ``skops.io`` module (imported on first use, as described above)."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    with _LOCK:
        if "skops.io" not in sys.modules:
            import sklearn.utils

            real = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = all_estimators_without_side_trips  # type: ignore[assignment]
            try:
                import skops.io  # noqa: F401 -- reads sklearn.utils.all_estimators while it imports
            finally:
                sklearn.utils.all_estimators = real
    return sys.modules["skops.io"]
