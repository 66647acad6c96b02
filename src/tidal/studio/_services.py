"""Model services started from the Studio: each a ``tidal deploy SPEC --target local`` child on loopback.

A service serves one registered model: a pinned version (``models:/NAME/3``), an alias
(``models:/NAME@production``, followed: moving the alias swaps the served version within a
second), or the newest version (``models:/NAME``, followed too). Its spec is the YAML that
``tidal deploy`` takes, written to ``.tidal/services/NAME.yaml``, so the same service runs by hand
with ``tidal deploy .tidal/services/NAME.yaml``. See :class:`tidal.serving.LocalService`.

The Studio talks only to the services it started, by name, at their loopback address; a request
never names a URL. Every service is stopped when the Studio stops.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from tidal.core._errors import NotFound, TidalError
from tidal.models import ModelRegistry, parse_model_uri
from tidal.serving import LocalService, ServiceSpec, metrics_summary, request_rate
from tidal.store import Workspace

#: at most this many services run at once (each is a process holding its models)
MAX_SERVICES = 8
#: request rates are measured over the metrics read in this many seconds
RATE_WINDOW_S = 30.0
#: how often a followed alias or newest version is looked up in the registry by the service
FOLLOW_INTERVAL_S = 1.0
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: a service name is a DNS label, as in the service YAML
SERVICE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ServiceConflict(TidalError):
    """The service is in a state that refuses the action (answered with 409)."""


class ServiceAnswer(TidalError):
    """The service refused a proxied request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class StudioService:
    """A service this Studio started, with the metrics it read of it (for request rates)."""

    service: LocalService
    model: str
    source: str
    history: deque[tuple[float, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=1000))

    @property
    def name(self) -> str:
        return self.service.spec.name


def default_name(model: str, version: int | None, alias: str | None) -> str:
    """A DNS-label service name from the model and what it serves: ``churn-production``, ``churn-v3``, ``churn-latest``."""
    stem = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-")[:40].strip("-") or "model"
    suffix = f"v{version}" if version is not None else re.sub(r"[^a-z0-9-]+", "-", alias.lower()) if alias else "latest"
    return f"{stem}-{suffix}"[:63].strip("-")


class ServiceManager:
    """Starts, lists, measures, proxies to and stops the Studio's model services."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.services: dict[str, StudioService] = {}
        self.lock = threading.Lock()

    def start(self, model: str, *, version: int | None = None, alias: str | None = None,
              name: str | None = None) -> StudioService:
        if version is not None and alias is not None:
            raise TidalError("give 'version' or 'alias', not both (neither: the newest version)")
        source = (f"models:/{model}/{version}" if version is not None else
                  f"models:/{model}@{alias}" if alias is not None else f"models:/{model}")
        reference = parse_model_uri(source)  # checks the name and alias
        ModelRegistry(self.workspace).resolve(reference)  # it must exist now: 404 naming what is missing
        chosen = name or default_name(model, version, alias)
        if not SERVICE_NAME.match(chosen):
            raise TidalError(f"service name '{chosen[:80]}' is not valid: lower-case letters, digits and '-' "
                             "(at most 63, starting and ending with a letter or digit), as in the service YAML")
        try:
            spec = ServiceSpec.model_validate({
                "name": chosen,
                "target": "local",
                "models": [{"name": reference.name, "versions": [{"source": source}], "follow": version is None}],
                "server": {"workers": 1, "drain_seconds": 0, "follow_interval_s": FOLLOW_INTERVAL_S},
            })
        except ValidationError as error:
            raise TidalError(f"the service for {source} is not valid: {error.errors()[0]['msg']}") from None
        with self.lock:
            current = self.services.get(spec.name)
            if current is not None and current.service.running:
                raise ServiceConflict(f"service '{spec.name}' is running already (serving {current.source}); "
                                      "stop it first, or give another 'name'")
            running = [item for item in self.services.values() if item.service.running]
            if len(running) >= MAX_SERVICES:
                raise ServiceConflict(f"{len(running)} services run already, the most this Studio starts; "
                                      "stop one first")
            started = StudioService(LocalService.start(spec, self.workspace), reference.name, source)
            self.services[spec.name] = started
        return started

    def get(self, name: str) -> StudioService:
        with self.lock:
            found = self.services.get(name)
            known = sorted(self.services)
        if found is None:
            raise NotFound(f"no service '{name[:80]}' was started by this Studio (its services: "
                           f"{', '.join(known) or 'none'}); start one with POST /api/services")
        return found

    def all_services(self) -> list[StudioService]:
        with self.lock:
            return list(self.services.values())

    def stop(self, name: str) -> StudioService:
        found = self.get(name)
        if not found.service.running:
            raise ServiceConflict(f"service '{name}' is not running ({found.service.health()['state']})")
        found.service.stop()
        return found

    def running(self, name: str) -> StudioService:
        found = self.get(name)
        health = found.service.health()
        if health["state"] in ("exited", "stopped"):
            raise ServiceConflict(f"service '{name}' is not running ({health['state']}: {health['reason']}); start it again")
        return found

    def metrics(self, name: str) -> dict[str, Any]:
        """The service's metrics now, with request rates over the metrics read in the last ``RATE_WINDOW_S``."""
        found = self.running(name)
        summary = metrics_summary(found.service.metrics_text())
        now = time.monotonic()
        with self.lock:
            history = found.history
            while history and now - history[0][0] > RATE_WINDOW_S:
                history.popleft()
            earlier = history[0] if history else None
            history.append((now, summary))
        rates = request_rate(earlier[1], summary, now - earlier[0]) if earlier else \
            {"requests_per_s": None, "errors_per_s": None, "by_version": {}}
        window = round(now - earlier[0], 3) if earlier else None
        return {**summary, "requests_per_s": rates["requests_per_s"], "errors_per_s": rates["errors_per_s"],
                "rates": rates["by_version"], "window_s": window}

    def infer(self, name: str, *, model: str | None = None, version: str | None = None,
              row: dict[str, Any] | None = None, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one inference request to the service: ``row`` (one value per input, made into a v2 request
        from the served model's signature) or ``request`` (a v2 request as it is)."""
        found = self.running(name)
        served = [entry.name for entry in found.service.spec.models]
        model = model or served[0]
        if model not in served:
            raise NotFound(f"service '{name}' serves {', '.join(served)}, not '{model[:80]}'")
        if version is not None and not LABEL.match(version):
            raise TidalError(f"'{version[:80]}' is not a version label (letters, digits, '_', '.', '-')")
        if (row is None) == (request is None):
            raise TidalError("give 'row' (one value per model input) or 'request' (a v2 inference request), one of them")
        base = f"/v2/models/{quote(model, safe='')}" + (f"/versions/{quote(version, safe='')}" if version else "")
        body = request if request is not None else self.v2_request(found, base, row or {})
        started = time.perf_counter()
        answer = found.service.request("POST", f"{base}/infer", json.dumps(body).encode())
        seconds = time.perf_counter() - started
        try:
            content = answer.json()
        except ValueError:
            content = {"error": answer.body[:500].decode("utf-8", "replace")}
        if answer.status >= 400:
            error = content.get("error") if isinstance(content, dict) else None
            status = answer.status if answer.status < 500 else 502
            raise ServiceAnswer(status, f"service '{name}' answered {answer.status}: {error or content}")
        return {"service": name, "model": model, "version": answer.headers.get("x-tidal-model-version"),
                "status": answer.status, "request": body, "response": content, "latency_ms": round(seconds * 1000, 3)}

    @staticmethod
    def v2_request(found: StudioService, base: str, row: dict[str, Any]) -> dict[str, Any]:
        """A one-row v2 request: one tensor per input of the served model, typed as its metadata says."""
        answer = found.service.request("GET", base)
        if answer.status != 200:
            raise ServiceAnswer(answer.status if answer.status < 500 else 502,
                                f"service '{found.name}' has no metadata for {base}: {answer.body[:300].decode('utf-8', 'replace')}")
        inputs = answer.json().get("inputs") or []
        names = [item["name"] for item in inputs]
        missing = [item for item in names if item not in row]
        unknown = [key for key in row if key not in names]
        if missing or unknown:
            problems = ([f"missing input(s) {', '.join(missing[:20])}"] if missing else []) + \
                       ([f"unknown input(s) {', '.join(key[:60] for key in unknown[:20])}"] if unknown else [])
            raise TidalError(f"the row does not match the model's signature: {'; '.join(problems)} "
                             f"(it takes: {', '.join(names[:50])})")
        return {"inputs": [{"name": item["name"], "datatype": item["datatype"], "shape": [1], "data": [row[item["name"]]]}
                           for item in inputs]}

    def shutdown(self) -> None:
        """Stop every service (the Studio is stopping): all signalled first, then each waited for."""
        with self.lock:
            services = [item.service for item in self.services.values()]
        for service in services:
            service.stopped = True
            if service.running:
                try:
                    service.process.terminate()
                except OSError:
                    pass
        for service in services:
            service.stop(timeout=10)
