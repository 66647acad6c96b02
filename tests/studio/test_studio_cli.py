"""``tidal studio``: defaults, and a clear message (exit 2, no traceback) when the port is taken."""

from __future__ import annotations

import socket
import subprocess
import sys


def test_help_shows_host_and_port_defaults():
    result = subprocess.run([sys.executable, "-m", "tidal.cli", "studio", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--host" in result.stdout and "127.0.0.1" in result.stdout and "8765" in result.stdout


def test_busy_port_is_a_clear_error(demo_ws):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "tidal.cli", "studio", "--port", str(port)],
                                cwd=demo_ws, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_public_surface():
    import tidal.studio

    assert sorted(tidal.studio.__all__) == ["create_app", "serve", "studio_url"]
    assert tidal.studio.studio_url("0.0.0.0", 8765, "abc") == "http://127.0.0.1:8765/?token=abc"
    assert tidal.studio.studio_url("::1", 9000) == "http://[::1]:9000/"
