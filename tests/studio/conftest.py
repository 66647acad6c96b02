"""Fixtures for the Studio API tests: the demo workspace, the app under TestClient, a real server."""

from __future__ import annotations

import pytest


@pytest.fixture
def demo_ws(tmp_path):
    from tidal.cli._demo import write_demo_workspace

    root = tmp_path / "ws"
    root.mkdir()
    write_demo_workspace(root)
    return root


@pytest.fixture
def client(demo_ws):
    from fastapi.testclient import TestClient

    from tidal.studio import create_app

    with TestClient(create_app(demo_ws, workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client
