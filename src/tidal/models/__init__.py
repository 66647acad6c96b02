"""Model packages: safe payloads, a manifest, and one universal predict for every flavor."""

from tidal.models._flavors import FLAVORS, Flavor, register_flavor
from tidal.models._package import ModelPackage, load_model

__all__ = ["FLAVORS", "Flavor", "ModelPackage", "load_model", "register_flavor"]
