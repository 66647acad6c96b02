"""Shape checking a network after an edit: Tidal's pure-Python inference against PyTorch itself.

The peer is what a PyTorch user does to learn a network's shapes: build the module and run it on
meta tensors (no memory, no arithmetic). Tidal re-infers from the spec. Both are timed on the same
networks in one process: a 500-layer chain (linear, relu, add, layernorm, dropout) and ResNet-18.

    python benchmarks/nn_shapes.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

from tidal.nn import NetworkSpec, build_module, infer_shapes, load_network

ROOT = Path(__file__).resolve().parents[1]


def chain(count: int = 500) -> NetworkSpec:
    layers = [{"id": "fc0", "kind": "linear", "inputs": ["x"], "params": {"out_features": 16}}]
    for index in range(1, count):
        kind = ("relu", "linear", "add", "layernorm", "dropout")[index % 5]
        layer = {"id": f"l{index}", "kind": kind, "inputs": [layers[-1]["id"]]}
        if kind == "linear":
            layer["params"] = {"out_features": 16}
        elif kind == "add":
            layer["inputs"].append(layers[-2]["id"])
        layers.append(layer)
    return NetworkSpec.from_dict({"tidal-nn": 1, "name": "chain", "inputs": {"x": {"shape": ["batch", 8]}},
                                  "layers": layers, "outputs": {"y": layers[-1]["id"]}})


def median_ms(function, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = {"500-layer chain": (chain(), (torch.empty(4, 8, device="meta"),)),
             "ResNet-18": (load_network(ROOT / "examples" / "nn" / "resnet18.yaml"), (torch.empty(1, 3, 224, 224, device="meta"),))}
    print(f"machine: {platform.machine()}, {platform.python_version()}, torch {torch.__version__}, 1 thread")
    print("| network | Tidal infer_shapes | PyTorch: forward on meta | PyTorch: build on meta + forward | ratio (build + forward / Tidal) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (spec, inputs) in cases.items():
        with torch.device("meta"):
            module = build_module(spec).eval()

        def forward(module=module, inputs=inputs):
            with torch.no_grad():
                module(*inputs)

        def build_and_forward(spec=spec, inputs=inputs):
            with torch.device("meta"):
                built = build_module(spec).eval()
            with torch.no_grad():
                built(*inputs)

        infer_shapes(spec)
        forward()
        tidal, _ = median_ms(lambda spec=spec: infer_shapes(spec), args.repeats)
        meta, _ = median_ms(forward, args.repeats)
        both, _ = median_ms(build_and_forward, max(3, args.repeats // 4))
        print(f"| {name} | {tidal:.1f} ms | {meta:.1f} ms | {both:.1f} ms | {both / tidal:.1f}x |")


if __name__ == "__main__":
    main()
