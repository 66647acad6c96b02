"""Model packages: safe payloads, a manifest, and one universal predict for every flavor."""

from tidal.models._archive import ArchiveLimits, PackageRefused
from tidal.models._archive import read_manifest as read_package_manifest
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
    "Flavor",
    "ModelPackage",
    "ModelReference",
    "ModelRegistry",
    "ModelVersion",
    "PackageRefused",
    "RegisteredModel",
    "load_model",
    "allow_skops_types",
    "parse_model_uri",
    "read_package_manifest",
    "register_flavor",
    "resolve_model_uri",
]
