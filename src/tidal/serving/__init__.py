"""Serving: a model becomes an HTTP service (Open Inference Protocol v2 + a simple JSON route).

::

    from tidal.serving import ModelServer, ModelSpec, serve
    serve([ModelSpec("churn", "models:/churn@production")], port=8080)

Heavy parts load on first use, so importing this package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BatchingConfig": "tidal.serving._batching",
    "Batcher": "tidal.serving._batching",
    "Overloaded": "tidal.serving._batching",
    "LoadFailed": "tidal.serving._repository",
    "ModelRepository": "tidal.serving._repository",
    "ModelSpec": "tidal.serving._repository",
    "ModelServer": "tidal.serving._server",
    "ServerOptions": "tidal.serving._server",
    "Processor": "tidal.serving._processors",
    "PackageProcessor": "tidal.serving._processors",
    "load_processor": "tidal.serving._processors",
    "RequestInvalid": "tidal.serving._signature",
    "Signature": "tidal.serving._signature",
    "serve": "tidal.serving._run",
    "ServiceSpec": "tidal.serving._service",
    "load_service": "tidal.serving._service",
    "deploy": "tidal.serving._deploy",
    "LocalService": "tidal.serving._local",
    "metrics_summary": "tidal.serving._metrics_summary",
    "request_rate": "tidal.serving._metrics_summary",
    "render_kubernetes": "tidal.serving._kubernetes",
    "pipeline_package": "tidal.serving._flavors",
    "custom_package": "tidal.serving._custom",
    "onnx_package": "tidal.serving._onnx",
    "pmml_package": "tidal.serving._pmml",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tidal.serving' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
