"""Hostile market indexes, wheels and requests: each attack is refused before pip runs.

``pip_marker`` replaces the one place that runs pip with a function that writes a marker file, so
"refused" is proven by the marker never appearing, not only by an error being raised.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidal.core import NotFound
from tidal.market import MarketRefused, install_package, load_index, remove_package
from tidal.market import _fetch as fetch_module
from tidal.market import _install as install_module
from tidal.market._index import MAX_INDEX_BYTES

SECRET = "tidal-secret-7f3a"


@pytest.fixture
def pip_marker(tmp_path, monkeypatch) -> Path:
    marker = tmp_path / "PIP-RAN"

    def fake_pip(*arguments: str):
        marker.write_text(json.dumps(arguments))
        raise AssertionError(f"pip ran with {arguments}")

    monkeypatch.setattr(install_module, "_pip", fake_pip)
    return marker


@pytest.fixture
def no_network(tmp_path, monkeypatch) -> Path:
    marker = tmp_path / "NETWORK-USED"

    class NoNetwork:
        def open(self, url, *args, **kwargs):
            marker.write_text(str(url))
            raise OSError("the tests have no network")

    monkeypatch.setattr(fetch_module, "_opener", NoNetwork())
    return marker


def make_wheel(folder: Path, file_name: str, name: str = "acme-tools", version: str = "0.1.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA",
                         f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr("acme_tools/__init__.py", "")
    return path


def write_index(folder: Path, wheel: str, digest: str, package: str = "acme-tools", version: str = "0.1.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.json"
    index.write_text(json.dumps({"tidal_market": 1, "packages": [
        {"package": package, "version": version, "summary": "s", "components": ["acme_tools.scale"], "licence": "MIT",
         "wheel": wheel, "sha256": digest}]}))
    return index


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("wheel", ["../outside/acme_tools-0.1.0-py3-none-any.whl", "/etc/acme_tools-0.1.0-py3-none-any.whl",
                                   "wheels/../../outside/acme_tools-0.1.0-py3-none-any.whl",
                                   "file:///tmp/acme_tools-0.1.0-py3-none-any.whl", "wheels\\..\\..\\acme_tools-0.1.0-py3-none-any.whl"])
def test_a_wheel_path_that_leaves_the_index_folder_is_refused(tmp_path, pip_marker, wheel):
    outside = make_wheel(tmp_path / "outside", "acme_tools-0.1.0-py3-none-any.whl")
    index = write_index(tmp_path / "market", wheel, digest(outside))
    with pytest.raises(MarketRefused, match="index|backslash"):
        install_package("acme-tools", index)
    assert not pip_marker.exists()


def test_a_symbolic_link_out_of_the_index_folder_is_refused(tmp_path, pip_marker):
    outside = make_wheel(tmp_path / "outside", "acme_tools-0.1.0-py3-none-any.whl")
    (tmp_path / "market" / "wheels").mkdir(parents=True)
    (tmp_path / "market" / "wheels" / outside.name).symlink_to(outside)
    index = write_index(tmp_path / "market", f"wheels/{outside.name}", digest(outside))
    with pytest.raises(MarketRefused, match="outside the index's folder"):
        install_package("acme-tools", index)
    assert not pip_marker.exists()


@pytest.mark.parametrize("location", ["http://example.org/index.json", "http://10.0.0.7:8000/index.json", "ftp://example.org/i.json",
                                      "gopher://127.0.0.1/index.json"])
def test_an_index_over_plain_http_to_another_machine_is_never_fetched(no_network, location):
    with pytest.raises(MarketRefused, match="http|not a path"):
        load_index(location)
    assert not no_network.exists()


def test_a_wheel_url_over_plain_http_to_another_machine_is_never_fetched(tmp_path, no_network, pip_marker):
    index = write_index(tmp_path, "http://192.0.2.10/acme_tools-0.1.0-py3-none-any.whl", "a" * 64)
    with pytest.raises(MarketRefused, match="plain http"):
        install_package("acme-tools", index)
    assert not no_network.exists() and not pip_marker.exists()


def test_a_loopback_http_index_is_allowed_to_be_fetched(no_network):
    with pytest.raises(MarketRefused, match="cannot fetch"):
        load_index("http://127.0.0.1:9/index.json")
    assert no_network.read_text() == "http://127.0.0.1:9/index.json"


def test_a_redirect_from_loopback_to_plain_http_elsewhere_is_not_followed():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            asked.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://192.0.2.10/index.json")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(MarketRefused, match="redirect.*plain http"):
            load_index(f"http://127.0.0.1:{server.server_port}/index.json")
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["/index.json"]


def test_a_huge_index_is_refused_after_reading_no_more_than_the_limit(tmp_path):
    huge = tmp_path / "index.json"
    with huge.open("w") as out:
        out.write('{"tidal_market": 1, "packages": [], "name": "')
        out.write("x" * (MAX_INDEX_BYTES + 10))
        out.write('"}')
    with pytest.raises(MarketRefused, match="larger than"):
        load_index(huge)


def test_a_deeply_nested_index_is_refused_cleanly(tmp_path):
    nested = tmp_path / "index.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(MarketRefused, match="not valid"):
        load_index(nested)


@pytest.mark.parametrize("package", ["--index-url=http://evil.example/simple", "-e", "acme @ file:///etc/passwd", "../../acme",
                                     "https://evil.example/acme.whl", "acme;rm -rf /", "acme\nother"])
def test_a_package_name_that_is_an_option_a_path_or_a_url_is_refused_in_the_index(tmp_path, pip_marker, package):
    wheel = make_wheel(tmp_path / "wheels", "acme_tools-0.1.0-py3-none-any.whl")
    index = write_index(tmp_path, f"wheels/{wheel.name}", digest(wheel), package=package)
    with pytest.raises(MarketRefused, match="not valid at packages/0/package"):
        install_package("acme-tools", index)
    assert not pip_marker.exists()


@pytest.mark.parametrize("package", ["--index-url=http://evil.example/simple", "acme @ file:///x", "../acme"])
def test_a_package_name_that_is_an_option_is_refused_on_the_command_line_and_by_remove(pip_marker, package):
    with pytest.raises(MarketRefused, match="not a package name"):
        install_package(package, "unused.json")
    with pytest.raises(MarketRefused, match="not a package name"):
        remove_package(package)
    assert not pip_marker.exists()


def test_remove_refuses_a_package_that_is_not_a_plugin(pip_marker):
    with pytest.raises(MarketRefused, match="not a Tidal plug-in"):
        remove_package("numpy")
    with pytest.raises(NotFound, match="no package"):
        remove_package("surely-not-installed-here")
    assert not pip_marker.exists()


def test_a_wheel_whose_hash_matches_but_whose_name_differs_from_the_entry_is_refused(tmp_path, pip_marker):
    wheel = make_wheel(tmp_path / "wheels", "acme_tools-0.1.0-py3-none-any.whl")
    index = write_index(tmp_path, f"wheels/{wheel.name}", digest(wheel), package="other-tools")
    with pytest.raises(MarketRefused, match="does not belong to other-tools"):
        install_package("other-tools", index)
    assert not pip_marker.exists()


def test_a_renamed_wheel_whose_metadata_names_another_package_is_refused(tmp_path, pip_marker):
    wheel = make_wheel(tmp_path / "wheels", "other_tools-0.1.0-py3-none-any.whl", name="acme-tools")
    index = write_index(tmp_path, f"wheels/{wheel.name}", digest(wheel), package="other-tools")
    with pytest.raises(MarketRefused, match="says it is acme-tools"):
        install_package("other-tools", index)
    assert not pip_marker.exists()


def test_a_hash_mismatch_names_both_hashes_and_leaves_no_file(tmp_path, pip_marker, monkeypatch):
    wheel = make_wheel(tmp_path / "wheels", "acme_tools-0.1.0-py3-none-any.whl")
    index = write_index(tmp_path, f"wheels/{wheel.name}", "b" * 64)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(install_module.tempfile, "tempdir", None)
    with pytest.raises(MarketRefused) as refused:
        install_package("acme-tools", index)
    assert "b" * 64 in str(refused.value) and digest(wheel) in str(refused.value)
    assert not pip_marker.exists() and list(scratch.rglob("*.whl")) == []


def test_an_index_error_does_not_echo_a_file_it_was_pointed_at(tmp_path):
    secret = tmp_path / "credentials.txt"
    secret.write_text(f"password={SECRET}\n")
    with pytest.raises(MarketRefused) as refused:
        load_index(secret)
    assert SECRET not in str(refused.value)


@pytest.fixture(scope="module")
def studio_client(tmp_path_factory):
    from tidal.studio import create_app

    return TestClient(create_app(tmp_path_factory.mktemp("studio-ws")))


def test_the_studio_install_route_is_off_without_the_switch(studio_client, pip_marker):
    reply = studio_client.post("/api/plugins/install", json={"package": "acme-tools"})
    assert reply.status_code == 403
    assert "--allow-install" in reply.json()["detail"]
    assert not pip_marker.exists()


def test_the_studio_install_route_keeps_the_write_rules(studio_client, pip_marker):
    form = studio_client.post("/api/plugins/install", content="package=acme-tools",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    cross_site = studio_client.post("/api/plugins/install", json={"package": "acme-tools"},
                                    headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert not pip_marker.exists()


@pytest.mark.parametrize("body", [{"package": "--index-url=http://evil.example/simple"}, {"package": "acme", "index": "/tmp/evil.json"},
                                  {"package": "acme @ https://evil.example/acme.whl"}])
def test_the_studio_install_route_accepts_a_package_name_only(tmp_path, pip_marker, body):
    from tidal.studio import create_app

    client = TestClient(create_app(tmp_path, allow_install=True))
    reply = client.post("/api/plugins/install", json=body)
    assert reply.status_code == 422
    assert not pip_marker.exists()


def test_the_studio_install_route_needs_the_token_even_with_the_switch(tmp_path, pip_marker):
    from tidal.studio import create_app

    client = TestClient(create_app(tmp_path, token="s3cret-token", allow_install=True), base_url="http://127.0.0.1")
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        reply = client.post("/api/plugins/install", json={"package": "acme-tools"}, headers=headers)
        assert reply.status_code == 401 and "s3cret-token" not in reply.text
    assert client.get("/api/plugins").status_code == 401
    assert not pip_marker.exists()
