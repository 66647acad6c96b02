"""Model packages: safe payloads, a manifest, and one universal predict for every flavor."""

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

__all__ = [
    "FLAVORS",
    "Flavor",
    "ModelPackage",
    "ModelReference",
    "ModelRegistry",
    "ModelVersion",
    "RegisteredModel",
    "load_model",
    "parse_model_uri",
    "register_flavor",
    "resolve_model_uri",
]
