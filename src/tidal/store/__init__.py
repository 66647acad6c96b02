"""Stores: metadata (SQLAlchemy: SQLite or PostgreSQL) and artifacts (fsspec: a folder or S3)."""

from tidal.store._artifacts import ArtifactStore, file_digest
from tidal.store._metadata import ArtifactRecord, MetadataStore, NodeRunRecord, RunRecord
from tidal.store._workspace import Workspace, find_workspace

__all__ = [
    "ArtifactRecord",
    "ArtifactStore",
    "MetadataStore",
    "NodeRunRecord",
    "RunRecord",
    "Workspace",
    "file_digest",
    "find_workspace",
]
