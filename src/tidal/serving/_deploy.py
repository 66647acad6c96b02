"""``tidal deploy``: one service spec, three targets.

* ``local``: the model server on this machine with ``server.workers`` processes (blocks until stopped).
* ``ray``: Ray Serve, with the spec's autoscaling (see :mod:`tidal.serving._ray`).
* ``kubernetes``: manifests written to a folder (apply them with ``kubectl apply -f``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tidal.core._errors import TidalError
from tidal.serving._service import ServiceSpec


def check_models(service: ServiceSpec, workspace: Any = None) -> None:
    """Every model version the service names exists and has a readable, checked manifest; all problems at once."""
    from tidal.models import read_package_manifest
    from tidal.serving._repository import resolve_source

    problems = []
    for spec in service.model_specs():
        try:
            path, _ = resolve_source(spec.source, spec.version, workspace)
            read_package_manifest(path)
        except TidalError as error:
            problems.append(f"  - model '{spec.name}' from {spec.source}: {error}")
    if problems:
        raise TidalError("the service names models that cannot be served:\n" + "\n".join(problems))


def deploy(service: ServiceSpec, *, target: str | None = None, output: Path | None = None, dry_run: bool = False,
           workspace: Any = None) -> str:
    chosen = target or service.target
    if chosen not in ("local", "ray", "kubernetes"):
        raise TidalError(f"unknown target '{chosen}'; choose local, ray or kubernetes")
    if dry_run:
        check_models(service, workspace)
    if chosen == "kubernetes":
        from tidal.serving._kubernetes import manifest_files, token_secret_name, write_manifests

        folder = output or Path("deploy") / service.name
        if dry_run:
            files = manifest_files(service)
            return "\n".join(f"# would write {folder / name}\n---\n{text}" for name, text in files.items())
        written = write_manifests(service, folder)
        secret = token_secret_name(service)
        namespace = f" -n {service.kubernetes.namespace}" if service.kubernetes.namespace else ""
        return ("wrote " + ", ".join(str(path) for path in written) +
                f"\nthe pods listen beyond loopback, so every route but health and metrics needs a token; the pods read "
                f"it from the Secret '{secret}' (key 'token'). Create it once:\n"
                f"  kubectl{namespace} create secret generic {secret} "
                "--from-literal=token=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                f"\napply with: kubectl apply -f {folder}")
    if chosen == "local":
        from tidal.serving._run import serve
        from tidal.serving._server import ServerOptions

        specs = service.model_specs()
        if dry_run:
            return "would serve " + ", ".join(f"{spec.name}:{spec.source} (weight {spec.weight:g})" for spec in specs) + \
                f" on port {service.server.port}" + \
                (f" and gRPC port {service.server.grpc_port}" if service.server.grpc_port is not None else "") + \
                f" with {service.server.workers} worker(s)" + \
                "".join(f"; {spec.name} follows {spec.source}" for spec in specs if spec.follow)
        # trust stays per model (the spec's models); the token, if admin is on, from TIDAL_SERVE_TOKEN or generated
        options = ServerOptions(max_body_bytes=int(service.server.max_body_mb * 1024 * 1024), admin=service.server.admin,
                                follow_interval_s=service.server.follow_interval_s)
        serve(specs, host="127.0.0.1", port=service.server.port, workers=service.server.workers, options=options,
              drain_seconds=service.server.drain_seconds, workspace=workspace, grpc_port=service.server.grpc_port)
        return ""
    if chosen == "ray":
        from tidal.serving._ray import deploy_on_ray

        if dry_run:
            from tidal.serving._ray import ray_autoscaling_config

            return f"would deploy {service.name} on Ray Serve with autoscaling {ray_autoscaling_config(service)}"
        return deploy_on_ray(service, workspace=workspace)
    raise TidalError(f"unknown target '{chosen}'; choose local, ray or kubernetes")
