"""The workspace: where the metadata database and the artifact store live.

By default the current directory, with ``.tidal/tidal.db`` and ``.tidal/artifacts/``. The
environment variables ``TIDAL_HOME``, ``TIDAL_DB`` and ``TIDAL_ARTIFACTS`` (or the CLI's
``--db`` and ``--artifacts``) override them.
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
    ) -> Workspace:
        home = Path(root or os.environ.get("TIDAL_HOME") or Path.cwd()).resolve()
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
