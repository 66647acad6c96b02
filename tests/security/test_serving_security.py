"""The model server under attack: trust smuggled in a request, the repository API, tokens, cross-site
requests, hostile inputs and overload. Every refusal is a JSON 4xx (or 503) and changes nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from servers import free_port
from serving_attack_helpers import (
    FakeClock,
    custom_code_package,
    linear_archive,
    model_taking,
    pickle_gadget_package,
    uvicorn_in_thread,
)

from tidal.core._hosts import is_loopback
from tidal.serving import Batcher, BatchingConfig, ModelServer, ModelSpec, Overloaded, ServerOptions

TOKEN = "serving-security-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROW = [{"x": 3.0}]


@pytest.fixture(scope="module")
def linear(tmp_path_factory) -> str:
    return str(linear_archive(tmp_path_factory.mktemp("security-linear") / "linear.zip"))


@pytest.fixture
def gadget(tmp_path):
    marker = tmp_path / "pwned.txt"
    return pickle_gadget_package(tmp_path / "gadget", marker), marker


def call(app, method: str, path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def admin_server(linear: str, **options) -> ModelServer:
    return ModelServer([ModelSpec("linear", linear)], options=ServerOptions(admin=True, token=TOKEN, **options))


def still_serving(server: ModelServer) -> bool:
    answer = call(server.app, "POST", "/api/predict/linear", json=ROW)
    return answer.status_code == 200 and answer.json()["predictions"] == pytest.approx([6.0])


# -- 1. trust is the operator's, never a request's ---------------------------------------------------
def test_a_load_request_cannot_grant_trust_and_the_pickle_never_runs(linear, gadget):
    package, marker = gadget
    off = call(ModelServer([ModelSpec("linear", linear)]).app, "POST", "/v2/repository/models/evil/load",
               json={"source": str(package), "trust": True})
    assert off.status_code == 404 and "--admin" in off.json()["error"]  # the repository API is off by default

    server = admin_server(linear)
    for trust in (True, False, "yes"):
        answer = call(server.app, "POST", "/v2/repository/models/evil/load", headers=AUTH,
                      json={"source": str(package), "trust": trust})
        assert answer.status_code == 400, answer.text
        assert "operator switch" in answer.json()["error"] and "tidal serve --trust" in answer.json()["error"]
    plain = call(server.app, "POST", "/v2/repository/models/evil/load", headers=AUTH, json={"source": str(package)})
    assert plain.status_code == 400 and "pickle" in plain.json()["error"] and "could not be loaded" in plain.json()["error"]
    assert not marker.exists()
    assert "evil" not in {row["name"] for row in call(server.app, "GET", "/v2/repository/index", headers=AUTH).json()
                          if row["state"] == "READY"}
    assert still_serving(server)


def test_custom_processor_code_is_never_imported_without_operator_trust(linear, tmp_path):
    marker = tmp_path / "imported.txt"
    archive = custom_code_package(tmp_path / "custom", marker)
    server = admin_server(linear)
    for body in ({"source": str(archive), "trust": True}, {"source": str(archive)}):
        answer = call(server.app, "POST", "/v2/repository/models/hostile/load", headers=AUTH, json=body)
        assert answer.status_code == 400, answer.text
    assert not marker.exists()


def test_over_real_http_a_load_with_trust_true_is_refused_and_nothing_runs(linear, gadget):
    package, marker = gadget
    server = admin_server(linear)
    with uvicorn_in_thread(server.app) as base:
        answer = httpx.post(f"{base}/v2/repository/models/evil/load", json={"source": str(package), "trust": True},
                            headers=AUTH, timeout=30)
        assert answer.status_code == 400 and "tidal serve --trust" in answer.json()["error"]
        assert answer.headers["content-type"] == "application/json"
        anonymous = httpx.post(f"{base}/v2/repository/models/evil/load", json={"source": str(package), "trust": True})
        assert anonymous.status_code == 401
        assert httpx.post(f"{base}/api/predict/linear", json=ROW).json()["predictions"] == pytest.approx([6.0])
    assert not marker.exists()


def test_loads_run_with_the_operators_trust_only(linear, tmp_path):
    """--trust (ServerOptions.trust) covers API loads; a service YAML's per-model trust covers that model's name only."""
    marker = tmp_path / "ran.txt"
    package = pickle_gadget_package(tmp_path / "gadget", marker)
    per_model = ModelServer([ModelSpec("linear", linear, trust=True)], options=ServerOptions(admin=True, token=TOKEN))
    other = call(per_model.app, "POST", "/v2/repository/models/other/load", headers=AUTH, json={"source": str(package)})
    assert other.status_code == 400 and not marker.exists()
    call(per_model.app, "POST", "/v2/repository/models/linear/load", headers=AUTH,
         json={"source": str(package), "version": "2", "swap": False})
    assert marker.exists()  # the operator trusted 'linear': its new version was unpickled
    marker.unlink()
    operator = admin_server(linear, trust=True)
    call(operator.app, "POST", "/v2/repository/models/other/load", headers=AUTH, json={"source": str(package)})
    assert marker.exists()


# -- 2. the repository API: off by default, then token, JSON only, same origin -----------------------
def test_repository_api_is_off_by_default(linear):
    server = ModelServer([ModelSpec("linear", linear)])
    for method, path in [("POST", "/v2/repository/index"), ("GET", "/v2/repository/index"),
                         ("POST", "/v2/repository/models/linear/unload"), ("GET", "/v2/repository/models/linear/load"),
                         ("POST", "/v2/repository/models/linear/traffic")]:
        answer = call(server.app, method, path, json={}, headers=AUTH)
        assert answer.status_code == 404 and "tidal serve --admin" in answer.json()["error"], (method, path)
    assert still_serving(server)


def test_repository_api_needs_the_token(linear, monkeypatch):
    import tidal.serving._access as access

    compared = []
    real = access.hmac.compare_digest
    monkeypatch.setattr(access.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    server = admin_server(linear)
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abc"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": "Bearer"}, {"Authorization": TOKEN}):
        for path in ("/v2/repository/index", "/v2/repository/models/linear/unload"):
            answer = call(server.app, "POST", path, json={}, headers=headers)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", (headers, path)
            assert "Authorization: Bearer TOKEN" in answer.json()["error"]
    assert still_serving(server)
    assert compared  # tokens are compared in constant time
    index = call(server.app, "POST", "/v2/repository/index", headers={"Authorization": f"bearer {TOKEN}"})
    assert index.status_code == 200 and index.json()[0]["name"] == "linear"
    unloaded = call(server.app, "POST", "/v2/repository/models/linear/unload", json={}, headers=AUTH)
    assert unloaded.status_code == 200 and call(server.app, "POST", "/api/predict/linear", json=ROW).status_code == 404


def test_a_token_is_generated_when_admin_is_on_without_one(linear, monkeypatch):
    monkeypatch.delenv("TIDAL_SERVE_TOKEN", raising=False)
    server = ModelServer([ModelSpec("linear", linear)], options=ServerOptions(admin=True))
    assert server.token_generated and len(server.options.token) >= 32
    assert call(server.app, "GET", "/v2/repository/index").status_code == 401
    assert call(server.app, "GET", "/v2/repository/index",
                headers={"Authorization": f"Bearer {server.options.token}"}).status_code == 200
    monkeypatch.setenv("TIDAL_SERVE_TOKEN", TOKEN)
    from_env = ModelServer([ModelSpec("linear", linear)], options=ServerOptions(admin=True))
    assert not from_env.token_generated and from_env.options.token == TOKEN
    monkeypatch.setenv("TIDAL_SERVE_TOKEN", "short")
    with pytest.raises(Exception, match="at least 16"):
        ModelServer([ModelSpec("linear", linear)], options=ServerOptions(admin=True))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
def test_state_changes_take_json_only(linear, content_type):
    server = admin_server(linear)
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    for path, body in [("/v2/repository/models/linear/unload", b"{}"), ("/v2/repository/models/linear/unload", b""),
                       ("/v2/repository/models/linear/traffic", b'{"weights": {"1": 0}}'),
                       ("/v2/repository/models/linear/load", b'{"source": "x"}')]:
        answer = call(server.app, "POST", path, content=body, headers=headers)
        assert answer.status_code == 415 and "application/json" in answer.json()["error"], (path, answer.text)
    assert still_serving(server)


def test_foreign_origins_are_refused(linear):
    server = admin_server(linear)
    for origin in ("https://evil.example", "null", "http://testserver.evil.example", "http://testserver:8081"):
        for path, body in [("/v2/repository/models/linear/unload", {}),
                           ("/v2/repository/models/linear/traffic", {"weights": {"1": 100}})]:
            answer = call(server.app, "POST", path, json=body, headers={**AUTH, "Origin": origin})
            assert answer.status_code == 403 and "another site" in answer.json()["error"], (origin, path)
        # inference too: a page on another site cannot make a user's browser score (or burn CPU) here
        simple = call(server.app, "POST", "/api/predict/linear", content=b'[{"x": 3.0}]',
                      headers={"Content-Type": "text/plain", "Origin": origin})
        assert simple.status_code == 403
    assert still_serving(server)
    own = call(server.app, "POST", "/api/predict/linear", json=ROW, headers={"Origin": "http://testserver"})
    assert own.status_code == 200
    own_admin = call(server.app, "POST", "/v2/repository/models/linear/traffic", json={"weights": {"1": 100}},
                     headers={**AUTH, "Origin": "http://testserver:80"})
    assert own_admin.status_code == 200


# -- 3. beyond loopback: a token on every route but health and metrics -------------------------------
def test_bound_beyond_loopback_every_route_but_health_and_metrics_needs_the_token(linear):
    server = ModelServer([ModelSpec("linear", linear)], options=ServerOptions(host="0.0.0.0", token=TOKEN))
    for method, path, body in [("POST", "/api/predict/linear", ROW), ("GET", "/v2", None), ("GET", "/v2/models/linear", None),
                               ("POST", "/v2/models/linear/infer", {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}),
                               ("GET", "/v2/models/linear/ready", None), ("GET", "/nowhere", None),
                               ("POST", "/v2/repository/index", None)]:
        answer = call(server.app, method, path, json=body)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", (method, path)
        assert answer.headers["content-type"] == "application/json"
    for path in ("/v2/health/live", "/v2/health/ready", "/metrics"):
        assert call(server.app, "GET", path).status_code == 200, path
    assert call(server.app, "POST", "/api/predict/linear", json=ROW, headers=AUTH).json()["predictions"] == pytest.approx([6.0])
    assert call(server.app, "POST", "/v2/repository/index", headers=AUTH).status_code == 404  # admin is still off
    loopback = ModelServer([ModelSpec("linear", linear)])
    assert not loopback.token_generated
    assert still_serving(loopback)  # on loopback, inference needs no token


def test_loopback_is_told_apart_from_every_other_address():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "", "192.168.1.5", "10.0.0.1", "example.com", "localhost.evil.example"]))


# -- 4. hostile inputs: JSON errors, nothing reflected, nothing unbounded ------------------------------
def test_errors_are_json_and_reveal_no_internals(linear):
    server = admin_server(linear)

    def explode() -> None:
        raise RuntimeError("secret detail at /srv/private/path")

    server.repository.index = explode  # type: ignore[method-assign]
    answer = call(server.app, "GET", "/v2/repository/index", headers=AUTH)
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/json"
    assert "secret" not in answer.text and "/srv/private" not in answer.text and "RuntimeError" in answer.json()["error"]
    for path, body, status in [("/api/predict/linear", b"\xff\xfe", 400), ("/api/predict/linear", b"[" * 100000, 400),
                               ("/v2/models/linear/infer", b'{"inputs": [{"name": "x", "shape": [4294967296, 4294967296], '
                                                         b'"datatype": "FP64", "data": []}]}', 400),
                               ("/v2/models/linear/infer", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", '
                                                         b'"parameters": {"binary_data_size": 3}}]}abc', 400)]:
        headers = {"Inference-Header-Content-Length": str(len(body) - 3)} if body.endswith(b"abc") else {}
        answer = call(server.app, "POST", path, content=body, headers=headers)
        assert answer.status_code == status and "error" in answer.json(), (path, body[:40], answer.text[:200])


def test_unknown_names_neither_grow_the_metrics_nor_reach_headers(linear):
    server = ModelServer([ModelSpec("linear", linear)])
    for index in range(20):
        answer = call(server.app, "POST", f"/api/predict/ghost-{index}%0d%0aX-Injected:1", json=ROW)
        assert answer.status_code == 404 and "x-injected" not in answer.headers
        assert "x-tidal-model-version" not in answer.headers
    metrics = call(server.app, "GET", "/metrics").text
    assert "ghost" not in metrics and 'model="(unknown)"' in metrics


# -- 5. overload: admission bounded by the expected wait ------------------------------------------------
def test_admission_is_bounded_by_the_expected_wait():
    clock = FakeClock()
    batcher = Batcher(model_taking(clock, 0.5), BatchingConfig(max_batch_size=1, max_queue=100, queue_timeout_s=2.0),
                      clock=clock)
    answered: dict[int, float] = {}

    async def submit(index: int, enqueued: float):
        result = await batcher.submit({"x": [float(index)]}, 1)
        answered[index] = clock.now - enqueued  # on the model's clock: how long this request really waited
        return result

    async def main() -> tuple[list, float | None, int]:
        await batcher.submit({"x": [0.0]}, 1)  # one measured batch: 0.5 s for 1 row
        assert batcher.expected_wait_s() == pytest.approx(0.5)
        tasks = [asyncio.ensure_future(submit(index, clock.now)) for index in range(1, 11)]
        await asyncio.sleep(0)  # every submission has been admitted or refused; no batch has run yet
        expected, depth = batcher.expected_wait_s(), batcher.depth
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.stop()
        return outcomes, expected, depth

    outcomes, expected, depth = asyncio.run(main())
    served = [item for item in outcomes if isinstance(item, dict)]
    refused = [item for item in outcomes if isinstance(item, Overloaded)]
    # admitted while (queued / 1 + 1) x 0.5 <= 2.0: four requests; the other six are refused at once
    assert (len(served), len(refused), depth) == (4, 6, 4)
    assert expected == pytest.approx((4 / 1 + 1) * 0.5)
    assert all(item.retry_after_s == 1 and "would wait about 2.5s" in str(item) for item in refused)
    assert max(answered.values()) <= 2.0  # every admitted request was answered within the queue timeout
    assert batcher.stats()["expected_wait_s"] == pytest.approx(0.5)


def test_before_any_measurement_the_request_count_bounds_the_queue():
    clock = FakeClock()
    batcher = Batcher(model_taking(clock, 60.0), BatchingConfig(max_batch_size=1, max_queue=3, queue_timeout_s=1.0),
                      clock=clock)

    async def main() -> list:
        assert batcher.expected_wait_s() is None
        outcomes = await asyncio.gather(*(batcher.submit({"x": [1.0]}, 1) for _ in range(5)), return_exceptions=True)
        await batcher.stop()
        return outcomes

    outcomes = asyncio.run(main())
    full = [item for item in outcomes if isinstance(item, Overloaded) and "queue is full" in str(item)]
    waited = [item for item in outcomes if isinstance(item, Overloaded) and "waited more than 1s" in str(item)]
    # three admitted by count; the first batch took 60 s on the model's clock, so the two behind it timed out
    assert (len(full), len(waited), sum(isinstance(item, dict) for item in outcomes)) == (2, 2, 1)
    assert batcher.expected_wait_s() == pytest.approx(60.0)


def test_an_idle_model_admits_even_after_a_slow_batch():
    """One slow batch must not lock the model out: with nothing queued or running, a request starts at once."""
    clock = FakeClock()
    batcher = Batcher(model_taking(clock, 30.0), BatchingConfig(max_batch_size=1, queue_timeout_s=1.0), clock=clock)

    async def main() -> None:
        await batcher.submit({"x": [1.0]}, 1)
        assert (await batcher.submit({"x": [2.0]}, 1))["prediction"].tolist() == [4.0]
        await batcher.stop()

    asyncio.run(main())


def test_the_server_answers_503_with_retry_after_from_the_expected_wait(linear):
    from tidal.serving._batching import Batcher as RealBatcher

    server = ModelServer([ModelSpec("linear", linear)])
    loaded = server.repository.pick("linear")
    clock, release = FakeClock(), threading.Event()
    release.set()
    loaded.batcher = RealBatcher(model_taking(clock, 6.0, release),
                                 BatchingConfig(max_batch_size=1, queue_timeout_s=10.0, threaded=True), clock=clock)

    async def main() -> tuple[list[httpx.Response], float | None]:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async def post() -> httpx.Response:
                return await client.post("/api/predict/linear", json=ROW)

            async def until(condition) -> None:  # waits for the batcher's state, measures nothing
                for _ in range(6000):
                    if condition():
                        return
                    await asyncio.sleep(0.005)
                raise AssertionError("the batcher never reached the expected state")

            assert (await post()).status_code == 200  # measured: 6 s per batch of 1 row
            release.clear()
            first = asyncio.ensure_future(post())  # runs, and blocks in the model
            await until(lambda: loaded.batcher.in_flight == 1 and loaded.batcher.depth == 0)
            second = asyncio.ensure_future(post())  # (0 queued + 1) x 6 s = 6 s <= 10 s: queued
            await until(lambda: loaded.batcher.depth == 1)
            expected = loaded.batcher.expected_wait_s()
            third, fourth = await post(), await post()  # (1 + 1) x 6 s = 12 s > 10 s: refused at once
            release.set()
            return [await first, await second, third, fourth], expected

    responses, expected = asyncio.run(main())
    assert [response.status_code for response in responses] == [200, 200, 503, 503]
    assert expected == pytest.approx(12.0)
    for refused in responses[2:]:
        assert refused.headers["retry-after"] == "2" and "would wait about 12.0s" in refused.json()["error"]


# -- 6. the command line --------------------------------------------------------------------------------
def tidal(*args: str, cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tidal.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, **(env or {})})


def test_cli_switches(linear, tmp_path):
    gone = tidal("serve", linear, "--no-admin", cwd=tmp_path)
    assert gone.returncode == 2 and "--no-admin" in gone.stderr
    short = tidal("serve", linear, "--admin", cwd=tmp_path, env={"TIDAL_SERVE_TOKEN": "short"})
    assert short.returncode == 2 and "at least 16" in short.stderr and "Traceback" not in short.stderr


def test_cli_prints_a_generated_token_and_the_server_requires_it(linear, tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "TIDAL_SERVE_TOKEN"}
    process = subprocess.Popen([sys.executable, "-m", "tidal.cli", "serve", f"linear={linear}", "--admin", "--port", str(port),
                                "--drain-seconds", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=tmp_path)
    try:
        token = None
        assert process.stdout is not None
        for line in process.stdout:
            if "token" in line:
                token = line.rsplit(": ", 1)[1].strip()
            if "serving linear" in line:
                break
        assert token and len(token) >= 32
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # the ready line is printed just before the port opens
            try:
                httpx.get(f"{base}/v2/health/live", timeout=1)
                break
            except httpx.TransportError:
                threading.Event().wait(0.05)
        assert httpx.post(f"{base}/v2/repository/index").status_code == 401
        assert httpx.post(f"{base}/v2/repository/index", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.post(f"{base}/api/predict/linear", json=ROW).status_code == 200  # loopback: inference is open
    finally:
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
