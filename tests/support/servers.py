"""Real servers on loopback for the tests: PostgreSQL (initdb + pg_ctl), S3 (moto) and Redis (redis-server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_CANDIDATES = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path | None:
    for folder in PG_BIN_CANDIDATES:
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster; yields its SQLAlchemy URL."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: run `apt-get install -y postgresql` (.ci/run does)")
    folder = Path(tempfile.mkdtemp(prefix="tidal-pg-"))
    data = folder / "data"
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
        folder.chmod(0o755)
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "tidal", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} -c fsync=off"
    subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        subprocess.run([*as_user, str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tidal", "tidal"],
                       check=True, capture_output=True)
        yield f"postgresql://tidal@127.0.0.1:{port}/tidal"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def s3_server() -> Iterator[str]:
    """A local S3-compatible server (moto in server mode) on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield endpoint
    finally:
        server.stop()


class RedisServer:
    """A throwaway redis-server on loopback, in its own folder; ``kill`` and ``start`` again keep its port and data
    (with ``persistent=True`` every write is appended to its AOF and fsynced, so a SIGKILL loses nothing acknowledged)."""

    def __init__(self, *, persistent: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `apt-get install -y redis-server` (scripts/system-deps.sh does)")
        self.binary, self.persistent = binary, persistent
        self.folder = Path(tempfile.mkdtemp(prefix="tidal-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence, "--dir", str(self.folder),
             "--daemonize", "no", "--logfile", str(self.folder / "log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.folder / 'log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}; see {self.folder / 'log'}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def redis_server(*, persistent: bool = False) -> Iterator[RedisServer]:
    """Start a redis-server (no snapshots, and no AOF unless ``persistent``) on a free loopback port; yields it."""
    server = RedisServer(persistent=persistent)
    try:
        server.start()
        yield server
    finally:
        server.close()
