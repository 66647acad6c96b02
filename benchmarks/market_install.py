"""`tidal market install` beside pip's own hash-checking install of the same wheel, in one throwaway venv.

    PYTHONPATH=src python benchmarks/market_install.py [--repeats 5]

Both sides install the same wheel (a scaffolded plug-in built here) with ``--no-deps --no-index``
into the same throwaway venv and are then removed:

- peer: ``pip install --no-deps --no-index --require-hashes -r requirements.txt`` (pip's hash mode);
- tidal: ``tidal market install PACKAGE --yes --index index.json`` (copy, sha256, name and metadata
  checks, then pip), as a user runs it (a new ``tidal`` process, as for pip).

It also times the checks alone in this process (``fetch_wheel``) against hashing the file with
hashlib, on a 20 MiB wheel, to show what the checks cost per byte. Medians, ratios, the machine
and the load average are printed. No network is used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

from tidal.market import load_index, scaffold_plugin
from tidal.market._install import fetch_wheel

SOURCE = Path(__file__).parents[1] / "src"


def cpu_model() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    flags = fields.get("Flags", "").split()
    return f"{fields.get('Model name', '?').strip()} · {fields.get('CPU(s)', '?').strip()} CPUs · sha_ni={'sha_ni' in flags} avx2={'avx2' in flags}"


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def digest_of(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {cpu_model()}; Python {platform.python_version()}; load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="tidal-market-bench-") as scratch:
        root = Path(scratch)
        project = scaffold_plugin("acme-tools", root / "projects")
        shutil.copytree(project, root / "copy")
        wheels = root / "index" / "wheels"
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(root / "copy"),
             "-w", str(wheels)], dict(os.environ))
        wheel = next(wheels.glob("*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        index = root / "index" / "index.json"
        index.write_text(json.dumps({"tidal_market": 1, "packages": [{
            "package": "acme-tools", "version": "0.1.0", "summary": "bench", "components": ["acme_tools.scale_column"],
            "licence": "Apache-2.0", "wheel": f"wheels/{wheel.name}", "sha256": digest}]}))
        requirements = root / "requirements.txt"
        requirements.write_text(f"{wheel} --hash=sha256:{digest}\n")

        venv = root / "venv"
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)], dict(os.environ))
        python = str(venv / "bin" / "python")
        purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        (Path(purelib) / "_shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        env = {**os.environ, "PYTHONPATH": str(SOURCE)}
        uninstall = [python, "-m", "pip", "uninstall", "-q", "-y", "acme-tools"]
        sides = {
            "pip --require-hashes": [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--no-index",
                                     "--require-hashes", "-r", str(requirements)],
            "tidal market install": [python, "-m", "tidal.cli", "market", "install", "acme-tools", "--yes", "--index", str(index)],
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.repeats):
            for name, command in sides.items():  # interleaved, so load changes hit both sides alike
                times[name].append(timed(lambda command=command: run(command, env)))
                run(uninstall, env)
        print(f"\ninstall of a {wheel.stat().st_size:,}-byte wheel, medians of {args.repeats} (new process each, seconds):")
        peer = statistics.median(times["pip --require-hashes"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:24s} {median:6.2f} s   ratio to pip {median / peer:5.2f}   (min {min(values):.2f}, max {max(values):.2f})")

        big = wheels.parent / "big" / "acme_tools-0.1.0-py3-none-any.whl"
        big.parent.mkdir()
        shutil.copy(wheel, big)
        with zipfile.ZipFile(big, "a") as archive:
            archive.writestr("acme_tools/data.bin", os.urandom(20 * 1024 * 1024), compress_type=zipfile.ZIP_STORED)
        big_digest = hashlib.sha256(big.read_bytes()).hexdigest()
        (big.parent / "index.json").write_text(json.dumps({"tidal_market": 1, "packages": [{
            "package": "acme-tools", "version": "0.1.0", "summary": "bench", "components": [], "licence": "MIT",
            "wheel": big.name, "sha256": big_digest}]}))
        market = load_index(big.parent / "index.json")
        checks, hashing = [], []
        for repeat in range(args.repeats):
            target = root / f"fetched-{repeat}"
            target.mkdir()
            checks.append(timed(lambda target=target: fetch_wheel(market, market.entries[0], target)))
            hashing.append(timed(lambda: digest_of(big)))
        check_median, hash_median = statistics.median(checks), statistics.median(hashing)
        print(f"\nchecks alone on a {big.stat().st_size / 2**20:.0f} MiB wheel, medians of {args.repeats} (in process):")
        print(f"  hashlib.file_digest     {hash_median * 1000:7.1f} ms")
        print(f"  fetch_wheel (copy+checks) {check_median * 1000:5.1f} ms   ratio {check_median / hash_median:5.2f}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
