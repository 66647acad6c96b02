"""Registering a pipeline's model in the workspace's model registry."""

from __future__ import annotations

from typing import Annotated

from tidal.core import Param, component
from tidal.models import ModelPackage


@component(
    "model.register",
    title="Register Model",
    side_effects=True,
    tags={"sample": "classification", "sample_params": {"name": "conformance-model"}},
)
def register(
    model: ModelPackage,
    *,
    name: Annotated[str, Param(help="registered model name: letters, digits, '_', '-', '.'")],
    alias: Annotated[str | None, Param(help="point this alias (e.g. staging, production) at the new version")] = None,
    description: Annotated[str | None, Param(help="what this version is")] = None,
) -> ModelPackage:
    """Add the model as the next version of ``name`` in the model registry, linked to the run and node that made it.

    The registry lives in the workspace (``TIDAL_HOME``, ``TIDAL_DB`` and ``TIDAL_ARTIFACTS``
    are honoured). The model passes through unchanged, so later nodes can keep using it;
    serve it with ``tidal serve models:/NAME@ALIAS``.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from tidal.components.classification import logistic_regression
    >>> from tidal.models import ModelRegistry
    >>> from tidal.store import Workspace
    >>> home = tempfile.mkdtemp()
    >>> model = logistic_regression(load_iris(as_frame=True).frame, label="target")
    >>> saved, os.environ["TIDAL_HOME"] = os.environ.get("TIDAL_HOME"), home   # a scratch workspace
    >>> model = register(model, name="iris", alias="staging")
    registered models:/iris/1 as models:/iris@staging
    >>> ModelRegistry(Workspace.open(home)).resolve("models:/iris@staging").version
    1
    >>> _ = os.environ.pop("TIDAL_HOME") if saved is None else os.environ.update(TIDAL_HOME=saved)
    """
    from tidal.models import ModelRegistry
    from tidal.store import Workspace

    workspace = Workspace.open()
    try:
        version = ModelRegistry(workspace).register(model, name, alias=alias, description=description)
    finally:
        workspace.close()
    print(f"registered {version.model_uri}" + (f" as models:/{name}@{alias}" if alias else ""))
    model.metadata = {**model.metadata, "registered": {"name": version.name, "version": version.version}}
    return model

