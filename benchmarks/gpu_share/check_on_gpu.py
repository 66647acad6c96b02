"""GPU memory shares on a real GPU: does each guard keep a job inside its share, and only that job?

    PYTHONPATH=src python benchmarks/gpu_share/check_on_gpu.py [--share 0.25] [--device 0]

Two checks, each with two jobs running side by side on one device (child processes of this script):

1. The allocator cap (``apply_memory_share``): both jobs cap themselves at the share; one allocates
   half its share (must succeed), the other one and a half times its share (must fail with
   ``GpuShareExceeded``, naming the job and the share).
2. The NVML watchdog (``MemoryWatchdog`` + ``NvmlSampler``): neither job caps itself; one holds
   0.4 of the device for a while (over a 0.25 share: must be stopped by SIGTERM), the other 0.1 of
   it (must run to its end). NVML must see the jobs' pids: in a container without the host's pid
   namespace it does not, and the check says so instead of passing.

Prints the machine, what each job did, and a verdict line per check; exits 1 when a check failed.
Needs PyTorch with CUDA and nvidia-ml-py (``tidal-ml[gpu]``); takes well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GIB = 1 << 30


def child_cap(share: float, device: int, fraction_of_share: float, job: str) -> None:
    """Cap this process at ``share``, then allocate ``fraction_of_share`` of it; print what happened."""
    import torch

    from tidal.runtime._gpu_share import GpuShareExceeded, apply_memory_share

    applied = apply_memory_share(share, device, job=job)
    assert applied is not None, "no CUDA device"
    wanted = int(applied.limit_bytes * fraction_of_share)
    result: dict[str, object] = {"job": job, "wanted_gib": round(wanted / GIB, 2), "limit_gib": round(applied.limit_bytes / GIB, 2)}
    try:
        with applied.guard():
            block = torch.empty(wanted, dtype=torch.uint8, device=f"cuda:{device}")
            block.fill_(1)
            torch.cuda.synchronize(device)
        result.update(outcome="allocated", reserved_gib=round(torch.cuda.memory_reserved(device) / GIB, 2))
    except GpuShareExceeded as error:
        result.update(outcome="refused", error=str(error))
    print(json.dumps(result), flush=True)


def child_hold(device: int, fraction_of_device: float, seconds: float) -> None:
    """Allocate ``fraction_of_device`` of the device with no cap, hold it ``seconds``, exit 0."""
    import torch

    total = torch.cuda.get_device_properties(device).total_memory
    block = torch.empty(int(total * fraction_of_device), dtype=torch.uint8, device=f"cuda:{device}")
    block.fill_(1)
    torch.cuda.synchronize(device)
    print("allocated", flush=True)
    time.sleep(seconds)
    print("done", flush=True)


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def machine(device: int) -> dict[str, object]:
    import torch

    properties = torch.cuda.get_device_properties(device)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return {"gpu": properties.name, "gpu_memory_gib": round(properties.total_memory / GIB, 1), "cpu": cpu,
            "cpus": os.cpu_count(), "torch": torch.__version__, "cuda": torch.version.cuda}


def check_cap(share: float, device: int) -> bool:
    jobs = {"within": spawn("--child", "cap", "--share", str(share), "--device", str(device), "--amount", "0.5",
                            "--job", "within-share"),
            "beyond": spawn("--child", "cap", "--share", str(share), "--device", str(device), "--amount", "1.5",
                            "--job", "beyond-share")}
    results = {}
    for name, process in jobs.items():
        out, err = process.communicate(timeout=300)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        results[name] = json.loads(lines[-1]) if lines else {"outcome": f"crashed (exit {process.returncode})", "stderr": err[-600:]}
        print(f"  cap/{name}: exit {process.returncode} {json.dumps(results[name])}")
    ok = (results["within"].get("outcome") == "allocated" and results["beyond"].get("outcome") == "refused"
          and "beyond-share" in str(results["beyond"].get("error")))
    print(f"CHECK allocator cap: {'PASS' if ok else 'FAIL'} (the job within its share allocated, the job beyond it was refused)")
    return ok


def check_watchdog(share: float, device: int) -> bool:
    import torch

    from tidal.runtime._gpu_share import MemoryWatchdog, NvmlSampler

    limit = int(torch.cuda.get_device_properties(device).total_memory * share)
    greedy = spawn("--child", "hold", "--device", str(device), "--amount", "0.4", "--seconds", "60")
    modest = spawn("--child", "hold", "--device", str(device), "--amount", "0.1", "--seconds", "8")
    for process in (greedy, modest):  # watch from the moment each holds its memory
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if line != "allocated":
            print(f"  a job failed to allocate: {line!r} {process.stderr.read() if process.stderr else ''}")
    sampler = NvmlSampler([device])
    seen = {process.pid: sampler(process.pid) for process in (greedy, modest)}
    print("  NVML sees: " + ", ".join(f"pid {pid}: {'-' if used is None else f'{used / GIB:.2f} GiB'}" for pid, used in seen.items()))
    started = time.monotonic()
    watchdogs = [MemoryWatchdog(greedy.pid, limit, sampler=sampler, interval=0.2, grace=5, job="greedy").start(),
                 MemoryWatchdog(modest.pid, limit, sampler=sampler, interval=0.2, grace=5, job="modest").start()]
    codes = {}
    for name, process in (("greedy", greedy), ("modest", modest)):
        try:
            codes[name] = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            codes[name] = f"still running after 120 s (killed by the check) {process.wait()}"
    for watchdog in watchdogs:
        watchdog.stop(10)
        print(f"  watchdog/{watchdog.job}: violation={watchdog.violation} last_sample={watchdog.last_sample} "
              f"errors={watchdog.sampling_errors}")
    print(f"  exit codes: {codes} after {time.monotonic() - started:.1f} s")
    if any(used is None for used in seen.values()):
        print("CHECK watchdog: INCONCLUSIVE (NVML does not list these pids: a pid namespace of its own?)")
        return False
    ok = (codes["greedy"] == -signal.SIGTERM and codes["modest"] == 0 and watchdogs[0].violation is not None
          and watchdogs[1].violation is None)
    print(f"CHECK watchdog: {'PASS' if ok else 'FAIL'} (the job over its share was stopped, the other ran to its end)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.25)
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--child", choices=["cap", "hold"])
    parser.add_argument("--amount", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--job", default="job")
    options = parser.parse_args()
    if options.child == "cap":
        child_cap(options.share, options.device, options.amount, options.job)
        return 0
    if options.child == "hold":
        child_hold(options.device, options.amount, options.seconds)
        return 0
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device here: run this on a machine with an NVIDIA GPU")
        return 2
    print(json.dumps({"machine": machine(options.device), "share": options.share}))
    results = [check_cap(options.share, options.device), check_watchdog(options.share, options.device)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
