"""A server following a registered model: each new version (or alias target) swapped in, failures reported."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from tidal.core._errors import TidalError
from tidal.models import ModelRegistry
from tidal.serving import ModelServer, ModelSpec, ServerOptions
from tidal.store import Workspace


@pytest.fixture
def registry(tmp_path, regression_archives):
    workspace = Workspace.open(tmp_path)
    registry = ModelRegistry(workspace)
    registry.register(regression_archives[0], "linear")  # version 1 doubles
    yield registry
    workspace.close()


async def _predict(server: ModelServer, x: float = 5.0) -> tuple[str, float]:
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/predict/linear", json=[{"x": x}])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == response.headers["x-tidal-model-version"]
    return body["version"], body["predictions"][0]


def _follower(server: ModelServer):  # type: ignore[no-untyped-def]
    assert server.follower is not None
    return server.follower


def _counter(server: ModelServer, name: str) -> float:
    value = server.metrics.registry.get_sample_value(name, {"model": "linear"})
    return 0.0 if value is None else value


def test_the_newest_version_is_swapped_in(registry, regression_archives):
    server = ModelServer([ModelSpec("linear", "models:/linear", follow=True)], workspace=registry.workspace,
                         options=ServerOptions(follow_interval_s=0.1))

    async def scenario() -> None:
        assert await _predict(server) == ("1", pytest.approx(10.0))
        assert await _follower(server).poll() == []                  # nothing new: nothing loaded
        registry.register(regression_archives[1], "linear")         # version 2 triples
        assert await _follower(server).poll() == ["linear/2"]
        assert await _predict(server) == ("2", pytest.approx(15.0))
        assert list(server.repository.get("linear").versions) == ["2"]   # the old version is gone
        await server.repository.stop()

    asyncio.run(scenario())
    assert _counter(server, "tidal_follow_swaps_total") == 1
    assert server.metrics.registry.get_sample_value("tidal_follow_registry_version", {"model": "linear"}) == 2


def test_an_alias_is_followed_where_it_moves_even_back(registry, regression_archives):
    registry.register(regression_archives[1], "linear")
    registry.set_alias("linear", "production", 2)
    server = ModelServer([ModelSpec("linear", "models:/linear@production", follow=True)], workspace=registry.workspace)

    async def scenario() -> None:
        assert (await _predict(server))[0] == "2"
        registry.set_alias("linear", "production", 1)                # a rollback
        assert await _follower(server).poll() == ["linear/1"]
        assert await _predict(server) == ("1", pytest.approx(10.0))
        await server.repository.stop()

    asyncio.run(scenario())


def _times_four(folder):  # type: ignore[no-untyped-def]
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from tidal.models import ModelPackage

    frame = pd.DataFrame({"x": np.arange(10, dtype=float)})
    package = ModelPackage.from_estimator(LinearRegression().fit(frame[["x"]], frame["x"] * 4), frame, features=["x"], task="regression")
    return package.save_archive(folder / "times4.zip")


def test_a_version_that_fails_to_load_is_reported_and_the_old_one_keeps_serving(registry, regression_archives, tmp_path):
    bad = registry.register(regression_archives[1], "linear")
    registry.workspace.artifacts.local_path(bad.uri).write_bytes(b"PK\x03\x04 not an archive")  # the stored archive is damaged
    token = "t" * 32
    registry.set_alias("linear", "serving", 1)
    server = ModelServer([ModelSpec("linear", "models:/linear@serving", follow=True)], workspace=registry.workspace,
                         options=ServerOptions(admin=True, token=token))
    registry.set_alias("linear", "serving", 2)

    async def scenario() -> None:
        assert await _follower(server).poll() == []                   # version 2 failed to load
        assert await _predict(server) == ("1", pytest.approx(10.0))   # the old version keeps serving
        assert await _follower(server).poll() == []                   # not tried again while the alias stays there
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            index = (await client.post("/v2/repository/index")).json()
            ready = await client.get("/v2/models/linear/versions/2/ready")
        assert {(row["version"], row["state"]) for row in index} == {("1", "READY"), ("2", "UNAVAILABLE")}
        assert ready.status_code == 400 and "failed to load" in ready.json()["error"]
        fixed = registry.register(_times_four(tmp_path), "linear")
        registry.set_alias("linear", "serving", fixed.version)
        assert await _follower(server).poll() == [f"linear/{fixed.version}"]
        assert await _predict(server) == (str(fixed.version), pytest.approx(20.0))
        await server.repository.stop()

    asyncio.run(scenario())
    assert _counter(server, "tidal_follow_failures_total") == 1


def test_a_server_started_before_the_first_version_waits_for_it(tmp_path, regression_archives):
    workspace = Workspace.open(tmp_path)
    try:
        server = ModelServer([ModelSpec("linear", "models:/linear", follow=True)], workspace=workspace)

        async def scenario() -> None:
            transport = httpx.ASGITransport(app=server.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.get("/v2/health/ready")).status_code == 400
                assert [row["state"] for row in server.repository.index()] == ["UNAVAILABLE"]
                assert await _follower(server).poll() == []           # still nothing registered
                ModelRegistry(workspace).register(regression_archives[0], "linear")
                assert await _follower(server).poll() == ["linear/1"]
                assert (await client.get("/v2/health/ready")).status_code == 200
                assert [(row["version"], row["state"]) for row in server.repository.index()] == [("1", "READY")]
            assert await _predict(server) == ("1", pytest.approx(10.0))
            await server.repository.stop()

        asyncio.run(scenario())
    finally:
        workspace.close()


def test_a_request_picked_before_a_swap_is_answered_by_the_new_version(registry, regression_archives):
    server = ModelServer([ModelSpec("linear", "models:/linear", follow=True)], workspace=registry.workspace)

    async def scenario() -> None:
        old = server.repository.pick("linear")
        registry.register(regression_archives[1], "linear")
        await _follower(server).poll()
        await asyncio.sleep(0)  # the old version's batcher stops: a submit to it now is refused
        assert old.batcher._stopping

        def read(version):  # type: ignore[no-untyped-def]
            return {"x": np.array([5.0])}, 1

        answered, outputs = await server.repository.submit(old, None, read)
        assert answered.version == "2" and float(outputs["prediction"][0]) == pytest.approx(15.0)
        await server.repository.stop()

    asyncio.run(scenario())


def test_only_moving_registry_uris_can_follow(registry, regression_archives):
    workspace = registry.workspace
    with pytest.raises(TidalError, match="names one version"):
        ModelServer([ModelSpec("linear", "models:/linear/1", follow=True)], workspace=workspace)
    with pytest.raises(TidalError, match="package path"):
        ModelServer([ModelSpec("linear", str(regression_archives[0]), follow=True)], workspace=workspace)
    with pytest.raises(TidalError, match="one source"):
        ModelServer([ModelSpec("linear", "models:/linear", follow=True),
                     ModelSpec("linear", "models:/linear/1", version="1")], workspace=workspace)
    with pytest.raises(TidalError, match="needs the server's workspace"):
        ModelServer([ModelSpec("linear", "models:/linear", follow=True)], workspace=None)
    with pytest.raises(TidalError, match="follow interval"):
        ServerOptions(follow_interval_s=0)


def test_the_service_spec_and_cli_arguments_carry_follow():
    from tidal.cli._serve import model_specs
    from tidal.serving import ServiceSpec
    from tidal.serving._batching import BatchingConfig
    from tidal.serving._service import parse_service

    spec = ServiceSpec.model_validate({"name": "clicks", "models": [{"name": "clicks", "follow": True,
                                                                     "versions": [{"source": "models:/clicks"}]}],
                                       "server": {"follow_interval_s": 1.5}})
    assert [s.follow for s in spec.model_specs()] == [True]
    assert spec.serve_arguments()[-3:] == ["--follow", "--follow-interval", "1.5"]
    with pytest.raises(TidalError, match="one version entry"):
        parse_service({"name": "c", "models": [{"name": "c", "follow": True, "versions": [
            {"source": "models:/c/1"}, {"source": "models:/c/2"}]}]})
    with pytest.raises(TidalError, match="models:/NAME or models:/NAME@ALIAS"):
        parse_service({"name": "c", "models": [{"name": "c", "follow": True, "versions": [{"source": "models:/c/1"}]}]})
    specs = model_specs(["models:/clicks", "other=models:/churn/3"], trust=False, batching=BatchingConfig(), follow=True)
    assert [(s.name, s.follow) for s in specs] == [("clicks", True), ("other", False)]
    with pytest.raises(TidalError, match="--follow needs"):
        model_specs(["models:/churn/3"], trust=False, batching=BatchingConfig(), follow=True)
