"""``tidal serve`` (one server on this machine) and ``tidal deploy`` (a service spec on a target)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from tidal.cli._app import WorkspaceOption, app, settings
from tidal.cli._render import console
from tidal.core._errors import TidalError


def model_specs(models: list[str], *, trust: bool, batching, follow: bool = False):  # type: ignore[no-untyped-def]
    """``[NAME=]SOURCE[,weight=N]`` strings → ModelSpecs; a name defaults to the registry name or the file stem.

    Several sources under one name are versions of that model, splitting traffic by weight. With
    ``follow`` every ``models:/NAME`` and ``models:/NAME@ALIAS`` source follows the registry (pinned
    versions and package paths stay as they are; at least one source must be followable).
    """
    from tidal.serving._repository import ModelSpec

    specs = []
    counts: dict[str, int] = {}
    for item in models:
        text, weight = item, 100.0
        if ",weight=" in text:
            text, weight_text = text.rsplit(",weight=", 1)
            try:
                weight = float(weight_text)
            except ValueError:
                raise TidalError(f"weight in '{item}' must be a number, e.g. models:/churn/2,weight=10") from None
        name, source = text.split("=", 1) if "=" in text.split(":/", 1)[0] else ("", text)
        if not name:
            name = source[len("models:/"):].split("@")[0].split("/")[0] if source.startswith("models:/") else Path(source).name.split(".")[0]
        counts[name] = counts.get(name, 0) + 1
        version = None if source.startswith("models:/") else str(counts[name])
        moving = source.startswith("models:/") and "/" not in source[len("models:/"):]
        specs.append(ModelSpec(name, source, version=version, weight=weight, trust=trust, batching=batching,
                               follow=follow and moving))
    if follow and not any(spec.follow for spec in specs):
        raise TidalError("--follow needs a registry URI that moves: models:/NAME (the newest version) or "
                         f"models:/NAME@ALIAS; got {', '.join(models)}")
    return specs


class UnknownColumns(enum.StrEnum):
    ignore = "ignore"
    refuse = "refuse"


@app.command()
def serve(
    models: Annotated[list[str], typer.Argument(
        help="models to serve: models:/NAME@ALIAS, models:/NAME/VERSION or a package path; NAME=SOURCE renames; "
             "several sources of one name with ,weight=N split traffic between versions")],
    host: Annotated[str, typer.Option("--host", help="interface to listen on; beyond loopback every route but "
                                                     "health and metrics needs the token")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8080,
    grpc_port: Annotated[int | None, typer.Option(
        "--grpc-port", min=1, max=65535,
        help="also serve the Open Inference Protocol over gRPC on this port (same host, token and models; "
             "needs the grpc extra; off by default)")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="server processes")] = 1,
    max_batch_size: Annotated[int, typer.Option("--max-batch-size", min=1, help="rows per model call")] = 64,
    max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", min=0, help="how long a batch may wait for more rows")] = 0.0,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, help="waiting requests per version before 503")] = 256,
    queue_timeout_s: Annotated[float, typer.Option("--queue-timeout", help="longest wait admitted: a request expected to wait longer gets 503 at once")] = 10.0,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", help="largest request body (413 beyond)")] = 8.0,
    drain_seconds: Annotated[float, typer.Option("--drain-seconds", help="on SIGTERM: seconds not-ready before stopping")] = 5.0,
    threaded: Annotated[bool, typer.Option("--threaded", help="run models in a worker thread (long model calls)")] = False,
    trust: Annotated[bool, typer.Option("--trust", help="allow payloads that run code (pickle, custom processors), "
                                                        "at start and for loads through the repository API")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="switch on the repository API (load/unload/traffic/index); "
                                                        "it needs the token")] = False,
    admin_token: Annotated[str | None, typer.Option(
        "--admin-token", envvar="TIDAL_SERVE_TOKEN", show_envvar=True,
        help="the bearer token clients send (repository API; every route beyond loopback); "
             "default: one generated and printed at start. Prefer the environment variable: "
             "a command line is visible to other users")] = None,
    unknown_columns: Annotated[UnknownColumns, typer.Option(
        "--unknown-columns",
        help="request columns (or v2 tensors) the model does not take: ignore them, naming them in the "
             "x-tidal-ignored-columns response header, or refuse the request with 400")] = UnknownColumns.ignore,
    follow: Annotated[bool, typer.Option(
        "--follow", help="follow the registry: a model served as models:/NAME (or models:/NAME@ALIAS) moves to each "
                         "new version (or alias target), loaded off the serving path and swapped in; a version that "
                         "fails to load is reported and the old one keeps serving")] = False,
    follow_interval: Annotated[float, typer.Option(
        "--follow-interval", min=0.05, help="with --follow: seconds between registry checks (one metadata query)")] = 5.0,
    workspace: WorkspaceOption = None,
) -> None:
    """Serve models over HTTP: Open Inference Protocol v2 (/v2/...) and a simple JSON route (/api/predict/NAME).

    With --grpc-port, the Open Inference Protocol over gRPC as well; with --follow, each new
    registered version as soon as it is registered (e.g. a stream job's snapshots)."""
    from tidal.serving._batching import BatchingConfig
    from tidal.serving._run import serve as run_server
    from tidal.serving._server import ServerOptions

    batching = BatchingConfig(max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue,
                              queue_timeout_s=queue_timeout_s, threaded=threaded)
    specs = model_specs(models, trust=trust, batching=batching, follow=follow)
    options = ServerOptions(max_body_bytes=int(max_body_mb * 1024 * 1024), admin=admin, token=admin_token, host=host,
                            trust=trust, unknown_columns=unknown_columns.value, follow_interval_s=follow_interval)
    # models:/ names need the registry's workspace; package files need none, and serving one creates nothing
    registered = any(spec.source.startswith("models:/") for spec in specs)
    found = settings.workspace(chosen=workspace, create=False) if registered else settings.existing_workspace(chosen=workspace)
    run_server(specs, host=host, port=port, workers=workers, options=options, drain_seconds=drain_seconds,
               workspace=found, grpc_port=grpc_port)


@app.command()
def deploy(
    spec: Annotated[Path, typer.Argument(help="service spec YAML (models, versions, weights, resources, autoscaling)")],
    target: Annotated[str | None, typer.Option("--target", help="local, ray or kubernetes (default: the spec's)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="kubernetes: folder for the manifests")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and print the plan; start nothing")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Deploy a service spec: `local` runs the server here, `ray` on Ray Serve, `kubernetes` writes manifests."""
    from tidal.serving._deploy import deploy as run_deploy
    from tidal.serving._service import load_service

    service = load_service(spec)
    chosen = target or service.target
    if chosen not in ("local", "ray", "kubernetes"):
        raise TidalError(f"unknown target '{chosen}'; choose local, ray or kubernetes")
    result = run_deploy(service, target=chosen, output=output, dry_run=dry_run,
                        workspace=settings.workspace(spec, chosen=workspace))
    if result:
        console.print(result)
