"""Per-window latency and throughput of each lifter backend available on this machine.

    .venv/bin/python benchmarks/backend_latency.py [--model-dir DIR]

For the default model, two larger candidates (F=81, and F=27 with C=128) and the paper-size denoiser
(F=243, C=512, L=8; random weights: the speed does not depend on them): ONNX Runtime CPU vs torch CPU at 1 and 2 threads, batch 1 (one
frame in causal mode with H=1) and batch 3 (H=3); on a GPU, torch CUDA and ONNX Runtime CUDA.
Writes benchmarks/results/backend_latency_<machine>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from adaptation.export import export_model_dir
from adaptation.model import Denoiser, LifterConfig
from adaptation.runtime import DEFAULT_MODEL_DIR, open_backend

RESULTS = Path(__file__).with_name("results")
PAPER_SIZE = LifterConfig(frames=243, width=512, depth=8, heads=8, mlp_ratio=2.0, architecture="mixste")
# Sizes the default was chosen among (random weights: speed does not depend on them).
CANDIDATES = {"F=81, C=64, L=3": LifterConfig(frames=81, width=64, depth=3, heads=4, mlp_ratio=2.0, architecture="mixste"),
              "F=27, C=128, L=4": LifterConfig(frames=27, width=128, depth=4, heads=8, mlp_ratio=2.0, architecture="mixste")}


def measure(backend, batch: int, seconds: float) -> dict:
    windows = np.random.default_rng(0).uniform(-0.5, 0.5, (batch, backend.frames, 17, 2)).astype(np.float32)
    backend.lift(windows)                       # warm-up
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or len(times) < 3:
        started = time.perf_counter()
        backend.lift(windows)
        times.append((time.perf_counter() - started) * 1000)
    return {"backend": backend.name, "batch": batch, "p50_ms": round(float(np.median(times)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2), "windows_per_s": round(1000 * batch / np.median(times), 1),
            "runs": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per setting")
    parser.add_argument("--skip-paper-size", action="store_true")
    args = parser.parse_args()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    models = {"default": args.model_dir}
    with tempfile.TemporaryDirectory() as scratch:
        for label, config in CANDIDATES.items():
            models[label] = export_model_dir(Denoiser(config), Path(scratch) / label.replace(", ", "_"))
        if not args.skip_paper_size:
            models["paper-size (F=243, C=512, L=8)"] = export_model_dir(Denoiser(PAPER_SIZE), Path(scratch) / "paper")
        rows = []
        for label, directory in models.items():
            names = ["onnxruntime-cpu", "torch"] + (["onnxruntime-cuda"] if gpu else [])
            for name in names:
                for threads in ((1, 2) if "cuda" not in name else (0,)):
                    torch.set_num_threads(max(1, threads))
                    try:
                        backend = open_backend(directory, name, threads=threads)
                    except RuntimeError as error:
                        print(f"{label} {name}: unavailable ({error})")
                        continue
                    for batch in (1, 3):
                        row = {"model": label, "threads": threads, **measure(backend, batch, args.seconds)}
                        rows.append(row)
                        print(row, flush=True)
            if gpu:
                backend = open_backend(directory, "torch")
                backend.sampler.to("cuda")
                backend.device, backend.name = "cuda", "torch-cuda"
                for batch in (1, 3):
                    rows.append({"model": label, "threads": 0, **measure(backend, batch, args.seconds)})
                    print(rows[-1], flush=True)
    machine = gpu or f"{platform.processor() or platform.machine()} CPU ({torch.get_num_threads()} cores used max)"
    tag = "gpu" if gpu else "cpu"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"backend_latency_{tag}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = ["| model | backend | threads | batch (windows) | p50 ms | p95 ms | windows/s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['backend']} | {r['threads'] or '-'} | {r['batch']} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['windows_per_s']} |" for r in rows]
    (RESULTS / f"backend_latency_{tag}.md").write_text(
        f"# Lifter backend latency ({machine})\n\nCommand: `.venv/bin/python benchmarks/backend_latency.py`. "
        "One window = one output frame in causal mode; batch 3 = H=3 hypotheses.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
