"""The model registry: named models with numbered versions, aliases, tags and lineage.

A version points at a model package archive in the artifact store and remembers the run and
node that produced it. Aliases (``production``, ``staging``, any name) point at one version.
Models are addressed by URI anywhere a model is accepted::

    models:/churn@production     the version the alias points at
    models:/churn/3              version 3
    models:/churn                the newest version

::

    registry = ModelRegistry(tidal.Workspace.open())
    version = registry.register(package, "churn", alias="staging")
    package = registry.load("models:/churn@staging")
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tidal.core._errors import NotFound, TidalError

if TYPE_CHECKING:
    from tidal.models._package import ModelPackage
    from tidal.store import Workspace

URI_SCHEME = "models:/"
_REGISTER_ATTEMPTS = 30
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")

registry_metadata = MetaData()

registered_models = Table(
    "registered_models",
    registry_metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text),
    Column("tags", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

model_versions = Table(
    "model_versions",
    registry_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), ForeignKey("registered_models.name", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("run_id", String(40)),
    Column("node_id", String(200)),
    Column("flavor", String(40), nullable=False),
    Column("task", String(40), nullable=False),
    Column("description", Text),
    Column("tags", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
)

model_aliases = Table(
    "model_aliases",
    registry_metadata,
    Column("name", String(200), ForeignKey("registered_models.name", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(stamp: Any) -> Any:
    if isinstance(stamp, dt.datetime) and stamp.tzinfo is None:
        return stamp.replace(tzinfo=dt.UTC)
    return stamp


@dataclass
class ModelVersion:
    name: str
    version: int
    uri: str
    content_hash: str
    flavor: str
    task: str
    run_id: str | None = None
    node_id: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    created_at: dt.datetime | None = None

    @property
    def model_uri(self) -> str:
        return f"{URI_SCHEME}{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "model_uri": self.model_uri,
            "uri": self.uri,
            "content_hash": self.content_hash,
            "flavor": self.flavor,
            "task": self.task,
            "run_id": self.run_id,
            "node_id": self.node_id,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": list(self.aliases),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass
class RegisteredModel:
    name: str
    description: str | None
    tags: dict[str, str]
    created_at: dt.datetime
    updated_at: dt.datetime
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class ModelReference:
    """A parsed ``models:/`` URI: a name and either a version, an alias, or neither (newest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{URI_SCHEME}{self.name}@{self.alias}"
        if self.version is not None:
            return f"{URI_SCHEME}{self.name}/{self.version}"
        return f"{URI_SCHEME}{self.name}"


def parse_model_uri(uri: str) -> ModelReference:
    """Parse ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/NAME``."""
    if not uri.startswith(URI_SCHEME):
        raise TidalError(f"'{uri}' is not a registry URI; write models:/NAME@ALIAS or models:/NAME/VERSION")
    rest = uri[len(URI_SCHEME):].lstrip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        _check_name(name)
        _check_alias(alias)
        return ModelReference(name, alias=alias)
    if "/" in rest:
        name, version = rest.split("/", 1)
        _check_name(name)
        if not version.isdigit() or int(version) < 1:
            raise TidalError(f"version '{version}' in '{uri}' must be a positive whole number, e.g. models:/{name}/1")
        return ModelReference(name, version=int(version))
    _check_name(rest)
    return ModelReference(rest)


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise TidalError(
            f"model name '{name}' is not valid: use letters, digits, '_', '-' or '.', starting with a letter or digit"
        )


def _check_alias(alias: str) -> None:
    if not ALIAS_PATTERN.match(alias):
        raise TidalError(f"alias '{alias}' is not valid: use letters, digits, '_' or '-', starting with a letter")
    if alias.isdigit():
        raise TidalError(f"alias '{alias}' would look like a version number; choose a name")


class ModelRegistry:
    """Register, find and alias model versions in a workspace's metadata database."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.engine = workspace.metadata.engine  # opening the store runs every migration

    # -- writing ---------------------------------------------------------------------------------
    def register(
        self,
        model: ModelPackage | str | Path,
        name: str,
        *,
        alias: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Store a package (object, folder or archive) and add it as the next version of ``name``.

        Registering the very same package under the same name again returns the existing version.
        """
        from tidal.models._package import ModelPackage

        _check_name(name)
        if alias is not None:
            _check_alias(alias)
        store = self.workspace.artifacts
        package: ModelPackage | PackageFacts
        if isinstance(model, ModelPackage):
            package = model
            staged = store.staging_dir() / f"register-{name}-{dt.datetime.now().timestamp()}.zip"
            package.save_archive(staged)
        else:
            source = Path(model)
            package = read_manifest(source)
            staged = store.staging_dir() / f"register-{name}-{dt.datetime.now().timestamp()}.zip"
            if source.is_dir():
                from tidal.models._archive import check_folder_links

                check_folder_links(source)
                _zip_folder(source, staged)
            else:
                staged.write_bytes(source.read_bytes())
        uri, digest, _size = store.put_content_addressed(staged, ".model.zip")
        return self._add_version(name, uri, digest, package, alias, description, tags)

    def register_artifact(
        self,
        uri: str,
        name: str,
        *,
        alias: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Register a model archive that is already in the artifact store (a run's output)."""
        from tidal.store import file_digest

        _check_name(name)
        if alias is not None:
            _check_alias(alias)
        path = self.workspace.artifacts.local_path(uri)
        package = read_manifest(path)
        return self._add_version(name, uri, file_digest(path), package, alias, description, tags)

    def register_from_run(
        self,
        run_id: str,
        node_id: str,
        name: str,
        *,
        port: str | None = None,
        alias: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Register the model a pipeline node produced (``tidal models register RUN NODE``)."""
        store = self.workspace.metadata
        run = store.get_run(run_id)
        models = [item for item in store.artifacts(run.id, node_id) if item.type == "Model"]
        if port is not None:
            models = [item for item in models if item.port == port]
        if not models:
            raise NotFound(f"node '{node_id}' of run '{run.id}' produced no model{f' on port {port!r}' if port else ''}; "
                           f"see `tidal runs show {run.id}`")
        if len(models) > 1:
            ports = ", ".join(item.port for item in models)
            raise TidalError(f"node '{node_id}' produced several models ({ports}); choose one with --port")
        return self.register_artifact(models[0].uri, name, alias=alias, description=description, tags=tags)

    def _add_version(
        self,
        name: str,
        uri: str,
        digest: str,
        package: Any,
        alias: str | None,
        description: str | None,
        tags: dict[str, str] | None,
    ) -> ModelVersion:
        lineage = package.lineage or {}
        for attempt in range(_REGISTER_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0.01, 0.05) * attempt)  # back off: another writer is committing
            try:
                with self.engine.begin() as connection:
                    stamp = _now()
                    # the row lock serialises version numbering per model on PostgreSQL (SQLite serialises writers itself)
                    exists = connection.execute(
                        select(registered_models.c.name).where(registered_models.c.name == name).with_for_update()
                    ).first()
                    if exists is None:
                        connection.execute(registered_models.insert().values(
                            name=name, description=None, tags={}, created_at=stamp, updated_at=stamp))
                    same = connection.execute(
                        select(model_versions.c.version).where(model_versions.c.name == name, model_versions.c.content_hash == digest)
                    ).first()
                    if same is not None:
                        version = int(same[0])
                    else:
                        latest = connection.execute(
                            select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
                        ).scalar()
                        version = int(latest or 0) + 1
                        connection.execute(model_versions.insert().values(
                            name=name, version=version, uri=uri, content_hash=digest,
                            run_id=lineage.get("run_id"), node_id=lineage.get("node_id"),
                            flavor=package.flavor, task=package.task, description=description,
                            tags=dict(tags or {}), created_at=stamp,
                        ))
                    connection.execute(update(registered_models).where(registered_models.c.name == name).values(updated_at=stamp))
                break
            except IntegrityError:  # another writer took the same version number: try the next one
                continue
        else:  # pragma: no cover - needs many concurrent writers in a row
            raise TidalError(f"could not register a version of '{name}': too many concurrent registrations, try again")
        if alias is not None:
            self.set_alias(name, alias, version)
        return self.get_version(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
        _check_alias(alias)
        self.get_version(name, version)  # it must exist
        with self.engine.begin() as connection:
            stamp = _now()
            changed = connection.execute(
                update(model_aliases).where(model_aliases.c.name == name, model_aliases.c.alias == alias)
                .values(version=version, updated_at=stamp)
            ).rowcount
            if not changed:
                connection.execute(model_aliases.insert().values(name=name, alias=alias, version=version, updated_at=stamp))

    def delete_alias(self, name: str, alias: str) -> None:
        with self.engine.begin() as connection:
            removed = connection.execute(
                delete(model_aliases).where(model_aliases.c.name == name, model_aliases.c.alias == alias)
            ).rowcount
        if not removed:
            raise NotFound(f"model '{name}' has no alias '{alias}'")

    def update_model(self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None) -> None:
        current = self.get_model(name)
        values: dict[str, Any] = {"updated_at": _now()}
        if description is not None:
            values["description"] = description
        if tags is not None:
            values["tags"] = {**current.tags, **tags}
        with self.engine.begin() as connection:
            connection.execute(update(registered_models).where(registered_models.c.name == name).values(**values))

    def update_version(self, name: str, version: int, *, description: str | None = None,
                       tags: dict[str, str] | None = None) -> None:
        current = self.get_version(name, version)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if tags is not None:
            values["tags"] = {**current.tags, **tags}
        if values:
            with self.engine.begin() as connection:
                connection.execute(update(model_versions).where(
                    model_versions.c.name == name, model_versions.c.version == version).values(**values))

    # -- reading ---------------------------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(registered_models).order_by(registered_models.c.name)).all()
            latest = dict(connection.execute(
                select(model_versions.c.name, func.max(model_versions.c.version)).group_by(model_versions.c.name)).all())
            aliases: dict[str, dict[str, int]] = {}
            for alias_row in connection.execute(select(model_aliases)):
                aliases.setdefault(alias_row.name, {})[alias_row.alias] = alias_row.version
        return [
            RegisteredModel(row.name, row.description, dict(row.tags or {}), _aware(row.created_at), _aware(row.updated_at),
                            latest.get(row.name), aliases.get(row.name, {}))
            for row in rows
        ]

    def get_model(self, name: str) -> RegisteredModel:
        for model in self.list_models():
            if model.name == name:
                return model
        raise NotFound(f"no registered model '{name}'; see `tidal models list`")

    def versions(self, name: str) -> list[ModelVersion]:
        self.get_model(name)
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(model_versions).where(model_versions.c.name == name).order_by(model_versions.c.version)).all()
            aliases = self._aliases(connection, name)
        return [self._version(row, aliases) for row in rows]

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(model_versions).where(model_versions.c.name == name, model_versions.c.version == version)).first()
            aliases = self._aliases(connection, name)
        if row is None:
            known = [item.version for item in self.versions(name)]
            raise NotFound(f"model '{name}' has no version {version}; it has {', '.join(map(str, known)) or 'none'}")
        return self._version(row, aliases)

    def resolve(self, reference: str | ModelReference) -> ModelVersion:
        """The version a ``models:/`` URI (or a parsed reference) points at."""
        ref = parse_model_uri(reference) if isinstance(reference, str) else reference
        if ref.version is not None:
            return self.get_version(ref.name, ref.version)
        model = self.get_model(ref.name)
        if ref.alias is not None:
            if ref.alias not in model.aliases:
                known = ", ".join(sorted(model.aliases)) or "none"
                raise NotFound(f"model '{ref.name}' has no alias '{ref.alias}' (aliases: {known}); "
                               f"set one with `tidal models alias {ref.name} {ref.alias} VERSION`")
            return self.get_version(ref.name, model.aliases[ref.alias])
        if model.latest_version is None:
            raise NotFound(f"model '{ref.name}' has no versions yet")
        return self.get_version(ref.name, model.latest_version)

    def current_version(self, reference: str | ModelReference) -> int | None:
        """The version number a ``models:/`` URI points at now, in one query; None when it points at nothing yet.

        Cheap enough to poll (a server following a model asks it every few seconds): no model row,
        tags or aliases are read, only the newest version number or the alias's target.
        """
        ref = parse_model_uri(reference) if isinstance(reference, str) else reference
        if ref.version is not None:
            return ref.version
        if ref.alias is not None:
            query = select(model_aliases.c.version).where(model_aliases.c.name == ref.name, model_aliases.c.alias == ref.alias)
        else:
            query = select(func.max(model_versions.c.version)).where(model_versions.c.name == ref.name)
        with self.engine.connect() as connection:
            found = connection.execute(query).scalar()
        return None if found is None else int(found)

    def local_path(self, reference: str | ModelReference) -> Path:
        """A local file holding the package archive of the version a URI points at."""
        return self.workspace.artifacts.local_path(self.resolve(reference).uri)

    def load(self, reference: str | ModelReference, *, trust: bool = False) -> ModelPackage:
        from tidal.models._package import ModelPackage

        return ModelPackage.load(self.local_path(reference), trust=trust)

    @staticmethod
    def _aliases(connection: Any, name: str) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for row in connection.execute(select(model_aliases).where(model_aliases.c.name == name).order_by(model_aliases.c.alias)):
            found.setdefault(row.version, []).append(row.alias)
        return found

    @staticmethod
    def _version(row: Any, aliases: dict[int, list[str]]) -> ModelVersion:
        return ModelVersion(
            name=row.name, version=row.version, uri=row.uri, content_hash=row.content_hash, flavor=row.flavor,
            task=row.task, run_id=row.run_id, node_id=row.node_id, description=row.description,
            tags=dict(row.tags or {}), aliases=aliases.get(row.version, []), created_at=_aware(row.created_at),
        )


@dataclass
class PackageFacts:
    """What registering needs from a package's manifest (the payload is never loaded)."""

    flavor: str
    task: str
    lineage: dict[str, Any]


def read_manifest(path: Path) -> PackageFacts:
    """The manifest of a package folder or archive, checked, without loading its payload (no code runs)."""
    from tidal.models._archive import read_manifest as read_checked_manifest

    if not path.exists():
        raise NotFound(f"no model package at {path}")
    manifest = read_checked_manifest(path)
    return PackageFacts(manifest["flavor"], manifest["task"], dict(manifest.get("lineage") or {}))


def _zip_folder(folder: Path, target: Path) -> None:
    import zipfile

    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                info = zipfile.ZipInfo(str(item.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, item.read_bytes())


def resolve_model_uri(uri: str | Path, workspace: Workspace | None = None) -> Path:
    """A local path to the model package that ``uri`` names.

    ``uri`` is a registry URI (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``models:/NAME``)
    or the path of a package folder or archive. The workspace defaults to :meth:`Workspace.open`.
    """
    text = str(uri)
    if text.startswith(URI_SCHEME):
        from tidal.store import Workspace

        return ModelRegistry(workspace or Workspace.open()).local_path(text)
    path = Path(text)
    if not path.exists():
        raise NotFound(f"no model package at {path}; give a package folder or archive, or models:/NAME@ALIAS")
    return path
