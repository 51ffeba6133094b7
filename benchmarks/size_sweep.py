"""Accuracy against lifter latency for every size tried, and the validation curves that chose them.

    .venv/bin/python benchmarks/size_sweep.py runs/randomized_diffusion runs/sweep_f9_diffusion ...

For each training run: its best checkpoint's validation MPJPE (the randomised rig's validation
subject, H=1, K=1), the validation curve against training time, and the latency of its ONNX
export per window on ONNX Runtime CPU, 1 thread, at H=1 and H=3 (p50 of 200 calls).
Writes benchmarks/results/size_sweep.{json,md,png}.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from adaptation import checkpoint  # noqa: E402
from adaptation.evaluate import evaluate  # noqa: E402
from adaptation.export import export_model_dir  # noqa: E402
from adaptation.runtime import open_backend  # noqa: E402
from splits import views  # noqa: E402

RESULTS = Path(__file__).with_name("results")


def latency_ms(model_dir: Path, batch: int, frames: int, calls: int = 200) -> float:
    backend = open_backend(model_dir, "onnxruntime-cpu", threads=1)
    rng = np.random.default_rng(0)
    windows = rng.normal(scale=0.3, size=(batch, frames, 17, 2)).astype(np.float32)
    noise = rng.normal(size=(batch, frames, 17, 3)).astype(np.float32)
    for _ in range(20):
        backend.lift(windows, noise)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        backend.lift(windows, noise)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def label(config, run: Path) -> str:
    if config.architecture == "mlp":
        return f"{run.name}: MLP (control) F=1 C={config.width} L={config.depth}"
    kind = "diffusion" if config.objective == "diffusion" else "regression (control)"
    tokens = "pose tokens" if config.architecture == "pose_tokens" else "joint tokens"
    return f"{run.name}: {kind}, {tokens} F={config.frames} C={config.width} L={config.depth} dropout {config.dropout}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    validation = views("randomized_val")
    rows = []
    figure, (curves, tradeoff) = plt.subplots(1, 2, figsize=(12, 4.5))
    for run in args.runs:
        model, meta = checkpoint.load(run / "best.pt")
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").is_file() else \
            torch.load(run / "last.pt", weights_only=False)["history"]
        name = label(model.config, run)
        mpjpe = evaluate(model, validation)["overall"]["mpjpe_mm"]
        with tempfile.TemporaryDirectory() as scratch:
            export_model_dir(model, Path(scratch) / "m")
            ms = {h: latency_ms(Path(scratch) / "m", h, model.config.frames) for h in (1, 3)}
        rows.append({"run": str(run), "model": name, "best_step": meta.get("step"), "val_mpjpe_mm": round(mpjpe, 1),
                     "train_seconds": history.get("val_seconds", [None])[-1], "latency_ms_h1": round(ms[1], 2),
                     "latency_ms_h3": round(ms[3], 2), "parameters": sum(p.numel() for p in model.parameters())})
        print(rows[-1])
        curves.plot(np.array(history["val_seconds"]) / 60, history["val_mpjpe_mm"], "o-", label=name)
        tradeoff.plot(ms[1], mpjpe, "o", label=name)
        tradeoff.annotate(f"{mpjpe:.0f} mm", (ms[1], mpjpe), textcoords="offset points", xytext=(5, 5))
    curves.set(xlabel="training time, minutes (1 CPU thread)", ylabel="validation MPJPE, mm (hdm_bd, randomised rig)",
               title="validation curves", yscale="log")
    tradeoff.set(xlabel="lifter latency per window, ms (ONNX Runtime CPU, 1 thread, H=1)",
                 ylabel="validation MPJPE of the best checkpoint, mm", title="accuracy against latency")
    for axis in (curves, tradeoff):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    figure.savefig(RESULTS / "size_sweep.png", dpi=90)
    machine = f"{platform.machine()}, 1 thread, torch {torch.__version__}"
    (RESULTS / "size_sweep.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = ["| model | params | best step | train s | validation MPJPE mm | latency ms H=1 | H=3 |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['parameters']:,} | {r['best_step']} | {r['train_seconds']} | {r['val_mpjpe_mm']} | "
              f"{r['latency_ms_h1']} | {r['latency_ms_h3']} |" for r in rows]
    (RESULTS / "size_sweep.md").write_text(
        "# Sizes tried: validation accuracy against lifter latency\n\n"
        f"Command: `.venv/bin/python benchmarks/size_sweep.py {' '.join(str(r) for r in args.runs)}`. Machine: {machine}.\n"
        "Validation: subject hdm_bd through the randomised rig, H=1, K=1. Picture: size_sweep.png.\n\n"
        + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
