"""What every route needs: the workspace, the run, study and service managers, helpers to read request bodies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request

from tidal.core._errors import Issue, TidalError
from tidal.core._yaml import check_nesting
from tidal.pipeline import Pipeline
from tidal.store import Workspace
from tidal.studio._models import IssueOut
from tidal.studio._paths import PathRefused, confine, is_inside
from tidal.studio._runs import RunManager
from tidal.studio._services import ServiceManager
from tidal.studio._studies import StudyManager


@dataclass
class StudioContext:
    workspace: Workspace
    runs: RunManager
    studies: StudyManager
    services: ServiceManager
    auth: bool = False
    allow_install: bool = False
    loopback: bool = True

    @property
    def import_allowed(self) -> bool:
        """Whether the network editor may import a PyTorch module (run its code): on loopback, or with --allow-code."""
        return self.loopback or self.runs.allow_code

    @property
    def root(self) -> Path:
        return self.workspace.root

    def file(self, relative: str) -> Path:
        """A workspace file named by a request; refuses anything outside the workspace."""
        return confine(self.root, relative)

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def artifact_path(self, uri: str) -> Path:
        """The local file of an artifact URI; refuses files outside the artifact store."""
        path = self.workspace.artifacts.local_path(uri)
        store = self.workspace.artifacts
        base = Path(store.root) if store.local else store.cache_dir
        if not is_inside(path, base):
            raise PathRefused(f"artifact {uri} lies outside the artifact store")
        return path


def context(request: Request) -> StudioContext:
    return request.app.state.studio  # type: ignore[no-any-return]


def issues_out(issues: list[Issue]) -> list[IssueOut]:
    return [IssueOut(**issue.to_dict()) for issue in issues]  # type: ignore[arg-type]


def pipeline_from_body(data: dict[str, Any], source: str | Path | None = None) -> Pipeline:
    """A pipeline from the YAML structure sent by the Studio; checked against the file format's schema."""
    if not isinstance(data, dict):
        raise TidalError("'pipeline' must be an object with 'tidal', 'name' and 'nodes'")
    check_nesting(data, source="'pipeline'")  # the same limit as a file's, before anything walks it
    try:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as error:
        raise TidalError(f"the pipeline cannot be written as YAML: {error}") from None
    return Pipeline.from_yaml(text, source)

