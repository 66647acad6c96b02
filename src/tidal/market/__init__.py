"""The algorithm market: third-party component packages from an index, checked, installed, verified.

    from tidal.market import load_index, install_package, verify_plugin

    index = load_index("https://example.org/tidal/index.json")   # or a path; default TIDAL_MARKET_INDEX
    install_package("acme-tools", index)    # sha256 checked before pip runs; pip install --no-deps
    verify_plugin("acme-tools", workspace_root)   # the conformance suite, recorded in .tidal/market/

``scaffold_plugin`` writes a new plug-in project (``tidal components new``). The market sits above
the conformance suite and below the CLI and the Studio, which both call it.
"""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "INDEX_SCHEMA": "tidal.market._index",
    "INDEX_VARIABLE": "tidal.market._index",
    "IndexEntry": "tidal.market._index",
    "InstallResult": "tidal.market._install",
    "MarketIndex": "tidal.market._index",
    "MarketRefused": "tidal.market._fetch",
    "PluginInfo": "tidal.market._plugins",
    "Verification": "tidal.market._plugins",
    "install_package": "tidal.market._install",
    "installed_plugins": "tidal.market._plugins",
    "load_index": "tidal.market._index",
    "read_records": "tidal.market._plugins",
    "remove_package": "tidal.market._install",
    "scaffold_plugin": "tidal.market._scaffold",
    "verify_plugin": "tidal.market._plugins",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:
    from tidal.market._fetch import MarketRefused
    from tidal.market._index import (
        INDEX_SCHEMA,
        INDEX_VARIABLE,
        IndexEntry,
        MarketIndex,
        load_index,
    )
    from tidal.market._install import InstallResult, install_package, remove_package
    from tidal.market._plugins import (
        PluginInfo,
        Verification,
        installed_plugins,
        read_records,
        verify_plugin,
    )
    from tidal.market._scaffold import scaffold_plugin

__all__ = [
    "INDEX_SCHEMA",
    "INDEX_VARIABLE",
    "IndexEntry",
    "InstallResult",
    "MarketIndex",
    "MarketRefused",
    "PluginInfo",
    "Verification",
    "install_package",
    "installed_plugins",
    "load_index",
    "read_records",
    "remove_package",
    "scaffold_plugin",
    "verify_plugin",
]
