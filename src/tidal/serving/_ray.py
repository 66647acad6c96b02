"""The ``ray`` target: the model server as a Ray Serve deployment with Ray's autoscaling.

Each replica is a full :class:`ModelServer` (same routes, batching, metrics) behind Ray Serve's
HTTP proxy; Ray adds and removes replicas to keep ``target_in_flight`` requests per replica, with
the spec's scale-up and scale-down windows as Ray's ``upscale_delay_s`` / ``downscale_delay_s``.
Ray Serve scales on ongoing requests only, so a QPS target is refused with a clear message.

Ray's proxy listens on loopback for a local Ray and on 0.0.0.0 for a cluster (``RAY_ADDRESS``); the
replicas are told which, so beyond loopback (or with ``server.admin``) they need the token, taken from
``TIDAL_SERVE_TOKEN`` where the deploy runs, or generated and shown in the deploy's message.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from tidal.core._errors import TidalError
from tidal.serving._service import ServiceSpec


def ray_autoscaling_config(service: ServiceSpec) -> dict[str, Any]:
    scaling = service.autoscaling
    if scaling.target_qps is not None:
        raise TidalError("Ray Serve scales on requests in flight, not on QPS: set autoscaling.target_in_flight "
                         "for the ray target (or use the kubernetes target for a QPS target)")
    return {
        "min_replicas": scaling.min_replicas,
        "initial_replicas": max(scaling.min_replicas, 1),
        "max_replicas": scaling.max_replicas,
        "target_ongoing_requests": scaling.target_in_flight or 2,
        "upscale_delay_s": scaling.scale_up_window_s,
        "downscale_delay_s": scaling.scale_down_window_s,
        "metrics_interval_s": 1.0,  # deprecated in Ray 2.60 in favour of environment variables, still honoured
        "look_back_period_s": 2.0,
    }


def _replica_class() -> Any:
    from ray import serve

    @serve.ingress()
    class TidalReplica:
        """One replica: a ModelServer built from the spec's models, served through Ray's proxy."""

        def __init__(self, specs: str, workspace: str | None, max_body_bytes: int, access: str) -> None:
            from tidal.serving._repository import ModelSpec
            from tidal.serving._server import ModelServer, ServerOptions

            store = None
            if workspace:
                from tidal.store import Workspace

                described = json.loads(workspace)
                store = Workspace.open(described["root"], db=described["db"], artifacts=described["artifacts"])
            options = ServerOptions(max_body_bytes=max_body_bytes, **json.loads(access))
            self.server = ModelServer([ModelSpec.from_dict(item) for item in json.loads(specs)],
                                      options=options, workspace=store)

        def __serve_build_asgi_app__(self) -> Any:
            return self.server.app

    return TidalReplica


def build_application(service: ServiceSpec, workspace: Any = None, *, host: str = "127.0.0.1",
                      token: str | None = None) -> Any:
    """The Ray Serve application for a service (pass it to ``serve.run``); ``host`` is where Ray's proxy listens."""
    from ray import serve

    specs = json.dumps([spec.to_dict() for spec in service.model_specs()])
    described = json.dumps(workspace.describe()) if workspace is not None else None
    cpus = _cpus(service.resources.cpu)
    options: dict[str, Any] = {"num_cpus": cpus}
    if service.resources.gpu:
        options["num_gpus"] = service.resources.gpu
    deployment: Any = serve.deployment(
        _replica_class(),
        name=service.name,
        autoscaling_config=ray_autoscaling_config(service),
        ray_actor_options=options,
        max_ongoing_requests=max(int((service.autoscaling.target_in_flight or 2) * 4), 8),
        graceful_shutdown_timeout_s=max(service.server.drain_seconds, 1.0),
    )
    access = json.dumps({"host": host, "token": token, "admin": service.server.admin,
                         "follow_interval_s": service.server.follow_interval_s})
    return deployment.bind(specs, described, int(service.server.max_body_mb * 1024 * 1024), access)


def _cpus(text: str) -> float:
    value = str(text).strip()
    try:
        return float(value[:-1]) / 1000 if value.endswith("m") else float(value)
    except ValueError:
        raise TidalError(f"resources.cpu '{text}' must be a number of cores, e.g. 1, 0.5 or 500m") from None


def replica_count(name: str, app_name: str | None = None) -> int:
    """Running replicas of a deployment (from ``serve.status()``)."""
    from ray import serve

    status = serve.status()
    for application in status.applications.values():
        for deployment_name, deployment in application.deployments.items():
            if deployment_name == name:
                return sum(int(count) for state, count in deployment.replica_states.items() if str(state).endswith("RUNNING"))
    return 0


def deploy_on_ray(service: ServiceSpec, *, workspace: Any = None, block: bool = True) -> str:
    """Deploy on the Ray cluster at ``RAY_ADDRESS`` (or a local one started here, kept while this runs)."""
    try:
        import ray
        from ray import serve
    except ImportError:
        raise TidalError('the ray target needs Ray Serve: pip install "ray[serve]"') from None
    from tidal.serving._server import ServerOptions, with_token

    address = os.environ.get("RAY_ADDRESS")
    host = "127.0.0.1" if address is None else "0.0.0.0"
    # one token for every replica: resolved here, where the operator runs the deploy
    access, generated = with_token(ServerOptions(host=host, admin=service.server.admin))
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING)
    serve.start(http_options={"host": host, "port": service.server.port})
    serve.run(build_application(service, workspace, host=host, token=access.token), name=service.name, route_prefix="/")
    message = f"{service.name} is running on Ray Serve at http://127.0.0.1:{service.server.port}"
    if generated:
        message += f" (token, send 'Authorization: Bearer TOKEN'; set your own with TIDAL_SERVE_TOKEN: {access.token})"
    if address is None and block:  # a local Ray lives as long as this process
        print(message + " (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            serve.shutdown()
            ray.shutdown()
    return message
