"""Model packages: safe payloads, a manifest, and one universal predict for every flavor."""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "ArchiveLimits": "tidal.models._archive",
    "ExportRefused": "tidal.models._export_check",
    "ExportReport": "tidal.models._export",
    "FLAVORS": "tidal.models._flavors",
    "Flavor": "tidal.models._flavors",
    "ModelPackage": "tidal.models._package",
    "ModelReference": "tidal.models._registry",
    "ModelRegistry": "tidal.models._registry",
    "ModelVersion": "tidal.models._registry",
    "PackageRefused": "tidal.models._archive",
    "RegisteredModel": "tidal.models._registry",
    "TRUSTED_SKOPS_TYPES": "tidal.models._trust",
    "allow_skops_types": "tidal.models._trust",
    "export_model": "tidal.models._export",
    "load_model": "tidal.models._package",
    "parse_model_uri": "tidal.models._registry",
    "read_package_manifest": "tidal.models._archive:read_manifest",
    "register_flavor": "tidal.models._flavors",
    "resolve_model_uri": "tidal.models._registry",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from tidal.models._archive import ArchiveLimits, PackageRefused
    from tidal.models._archive import read_manifest as read_package_manifest
    from tidal.models._export import ExportReport, export_model
    from tidal.models._export_check import ExportRefused
    from tidal.models._flavors import FLAVORS, Flavor, register_flavor
    from tidal.models._package import ModelPackage, load_model
    from tidal.models._registry import (
        ModelReference,
        ModelRegistry,
        ModelVersion,
        RegisteredModel,
        parse_model_uri,
        resolve_model_uri,
    )
    from tidal.models._trust import TRUSTED_SKOPS_TYPES, allow_skops_types

__all__ = [
    "FLAVORS",
    "TRUSTED_SKOPS_TYPES",
    "ArchiveLimits",
    "ExportRefused",
    "ExportReport",
    "Flavor",
    "ModelPackage",
    "ModelReference",
    "ModelRegistry",
    "ModelVersion",
    "PackageRefused",
    "RegisteredModel",
    "load_model",
    "allow_skops_types",
    "export_model",
    "parse_model_uri",
    "read_package_manifest",
    "register_flavor",
    "resolve_model_uri",
]
