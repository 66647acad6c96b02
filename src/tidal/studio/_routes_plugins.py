"""Installed plug-ins (``GET /api/plugins``) and installing one from the market index (off by default).

Installing runs a third-party package's code as the user who started the Studio, so the route
answers 403 unless the Studio was started with ``tidal studio --allow-install``. It installs only
from the index the server was started with (``TIDAL_MARKET_INDEX`` or the default): a request
names a package, never an index, a URL or a file. The access rules of ``_auth.py`` (token, JSON
content type, same Origin) apply before the route runs, as for every write.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tidal.core import registry
from tidal.market import install_package, installed_plugins
from tidal.market._index import NAME_PATTERN, canonical_name
from tidal.studio._context import StudioContext, context
from tidal.studio._models import ErrorBody

router = APIRouter(prefix="/api", tags=["plug-ins"])
Context = Annotated[StudioContext, Depends(context)]
INSTALL_SWITCH = "--allow-install"


class PluginOut(BaseModel):
    distribution: str
    version: str
    entry_points: list[str]
    components: list[str]
    load_errors: dict[str, str]
    conformance: str
    verified_version: str | None = None
    verified_at: str | None = None


class InstallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    package: str = Field(pattern=NAME_PATTERN, max_length=100)


class InstallOut(BaseModel):
    package: str
    version: str
    sha256: str
    components: list[str]
    load_errors: dict[str, str]


@router.get("/plugins", response_model=list[PluginOut])
def list_plugins(ctx: Context) -> list[PluginOut]:
    """Installed plug-in packages: version, components, load errors and conformance status from `tidal market verify`."""
    return [PluginOut(**info.to_dict()) for info in installed_plugins(ctx.root)]


@router.post("/plugins/install", response_model=InstallOut, responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}})
def install_plugin(body: InstallRequest, ctx: Context) -> Any:
    """Install a package from the server's market index (only when the Studio was started with --allow-install)."""
    if not ctx.allow_install:
        return JSONResponse({"detail": f"installing plug-ins from the Studio is off: it runs third-party code as the user who "
                                       f"started the Studio; restart it with `tidal studio {INSTALL_SWITCH}` to allow it, "
                                       "or run `tidal market install PACKAGE` yourself", "issues": []}, status_code=403)
    result = install_package(body.package)
    registry.load_new_plugins()
    plugin = next((info for info in installed_plugins(ctx.root) if canonical_name(info.distribution) == canonical_name(result.package)), None)
    return InstallOut(package=result.package, version=result.version, sha256=result.sha256,
                      components=plugin.components if plugin else [], load_errors=plugin.load_errors if plugin else {})
