"""The workspace: where the metadata database and the artifact store live.

A workspace is a folder with ``.tidal/tidal.db`` and ``.tidal/artifacts/``. Which one a command
uses is found the way git finds a repository (:func:`find_workspace`): the one chosen with
``--workspace`` / ``TIDAL_WORKSPACE`` (or ``TIDAL_HOME``); else the nearest folder holding
``.tidal/`` above the pipeline file; else above the current directory; else a new one. The
workspace's root is also the folder a pipeline's relative file paths are read from (the workers
run there). The environment variables ``TIDAL_DB`` and ``TIDAL_ARTIFACTS`` (or the CLI's ``--db``
and ``--artifacts``) move the database and the artifacts elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tidal.store._artifacts import ArtifactStore
from tidal.store._metadata import MetadataStore

STATE_DIR = ".tidal"
#: pipeline files conventionally live in this folder of their workspace
PIPELINES_DIR = "pipelines"


def _nearest_workspace(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / STATE_DIR).is_dir():
            return folder
    return None


def find_workspace(near: str | Path | None = None, *, chosen: str | Path | None = None) -> Path:
    """The workspace folder for a command about ``near`` (a pipeline file or a folder), found as git finds a repository.

    ``chosen`` (``--workspace``), then ``TIDAL_WORKSPACE`` or ``TIDAL_HOME``, win outright. Else the
    nearest folder holding ``.tidal/`` at or above ``near``'s folder, then at or above the current
    directory. With none, a new workspace:

    - ``near`` a folder: that folder (``tidal studio FOLDER`` means that folder);
    - ``near`` a file in a folder named ``pipelines/``: the folder above it (the project);
    - ``near`` a file at or below the current directory, or no ``near``: the current directory;
    - else ``near``'s folder.

    For a folder ``near`` the current directory is not searched: naming a folder names its workspace.
    """
    explicit = chosen or os.environ.get("TIDAL_WORKSPACE") or os.environ.get("TIDAL_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = Path.cwd().resolve()
    if near is None:
        return _nearest_workspace(here) or here
    target = Path(near).expanduser().resolve()
    if target.is_dir():
        return _nearest_workspace(target) or target
    folder = target.parent
    found = _nearest_workspace(folder) or _nearest_workspace(here)
    if found is not None:
        return found
    if folder.name == PIPELINES_DIR:
        return folder.parent
    return here if folder == here or here in folder.parents else folder


@dataclass
class Workspace:
    root: Path
    db_url: str
    artifacts_uri: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        root: str | Path | None = None,
        *,
        db: str | None = None,
        artifacts: str | None = None,
        storage_options: dict[str, Any] | None = None,
        near: str | Path | None = None,
    ) -> Workspace:
        """The workspace at ``root``; without one, the workspace :func:`find_workspace` finds for ``near``.

        Opening creates ``.tidal/`` when it is not there yet.
        """
        home = Path(root).expanduser().resolve() if root else find_workspace(near)
        state = home / STATE_DIR
        db_url = db or os.environ.get("TIDAL_DB") or f"sqlite:///{state / 'tidal.db'}"
        artifacts_uri = artifacts or os.environ.get("TIDAL_ARTIFACTS") or str(state / "artifacts")
        return cls(home, db_url, artifacts_uri, dict(storage_options or {}))

    @cached_property
    def metadata(self) -> MetadataStore:
        return MetadataStore(self.db_url)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.artifacts_uri, self.storage_options, cache_dir=self.root / STATE_DIR / "cache")

    def describe(self) -> dict[str, str]:
        return {"root": str(self.root), "db": self.db_url, "artifacts": self.artifacts_uri}

    def close(self) -> None:
        if "metadata" in self.__dict__:
            self.metadata.close()
