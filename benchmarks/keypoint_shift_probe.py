"""How much each model leans on exactly where the training mocap puts a joint (validation views only).

    .venv/bin/python benchmarks/keypoint_shift_probe.py [--sigma-m 0.03]

A 2D detector does not put a hip or a shoulder where the mocap joint is (MediaPipe's hips and
shoulders sit centimetres away). The probe re-projects the validation views' 2D from joints moved
by a constant random offset (N(0, sigma) metres per joint and axis, one per sequence, seed 0) with
the training augmentation itself (augment.shift_keypoints: the views' detector noise is carried
over), keeps the 3D target, and scores each trained run on the clean and the shifted 2D (H=1,
stitched windows); a run trained on filtered 2D (`train --smooth_2d`) gets both through the
node's One-Euro filter, as the node would feed them.
Writes benchmarks/results/keypoint_shift_probe.{json,md}.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.augment import shift_keypoints
from adaptation.clips import prepare
from adaptation.evaluate import predict_views
from adaptation.keypoint_filter import filter_settings, smooth_sequence
from splits import views

RESULTS = Path(__file__).with_name("results")
RUNS = Path(__file__).resolve().parents[1] / "runs"
MODELS = {"pose_randomized": "diffusion lifter (the raw-2D default of sessions 4-6)", "shift_diffusion": "diffusion lifter, keypoint-shift augmentation 3 cm",
          "shift15_diffusion": "diffusion lifter, keypoint-shift augmentation 1.5 cm",
          "long_diffusion": "diffusion lifter, 2x steps + EMA", "pose_regression": "same denoiser, deterministic (control)",
          "randomized_mlp": "single-frame MLP (control)", "randomized_diffusion": "MixSTE-style diffusion lifter (first default)",
          "smooth_diffusion": "diffusion lifter, filtered 2D (previous default)",
          "smooth_long_diffusion": "diffusion lifter, filtered 2D, 2x steps + EMA (the default)",
          "smooth_long_regression": "same denoiser, deterministic, filtered 2D, 2x steps + EMA (control)",
          "smooth_mlp": "single-frame MLP, filtered 2D (control)"}


def mpjpe_mm(model: torch.nn.Module, sequences: list) -> float:
    """Root-relative MPJPE over every frame of prepared sequences."""
    predicted = predict_views(model, sequences)
    return float(np.mean(np.concatenate([np.linalg.norm(p.pose - s.pose_3d, axis=-1).ravel() for p, s in zip(predicted, sequences)])) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sigma-m", type=float, default=0.03)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    validation = views("randomized_val")
    clean = prepare(validation)
    torch.manual_seed(0)
    shifted = []
    for s in clean:
        sequence = {k: torch.from_numpy(getattr(s, k))[None] for k in ("keypoints_2d", "pose_3d", "root_3d")}
        moved = shift_keypoints(sequence, args.sigma_m)["keypoints_2d"][0].numpy()
        shifted.append(dataclasses.replace(s, keypoints_2d=moved.astype(np.float32)))

    def through_filter(sequences: list, settings: dict) -> list:       # what the node feeds a lifter trained on filtered 2D
        return [dataclasses.replace(s, keypoints_2d=smooth_sequence(s.keypoints_2d, v.fps, **settings).astype(np.float32))
                for s, v in zip(sequences, validation.sequences)]
    rows = []
    for run, label in MODELS.items():
        path = RUNS / run / "best.pt"
        if not path.is_file():
            print(f"skipping {path}: not trained (benchmarks/train_source_models.sh)")
            continue
        model, meta = checkpoint.load(path)
        settings = filter_settings(meta)
        filtered = settings is not None
        fed = [through_filter(clean, settings), through_filter(shifted, settings)] if filtered else [clean, shifted]
        row = {"run": run, "model": label, "filtered_2d": filtered,
               "clean_mm": mpjpe_mm(model, fed[0]), "shifted_mm": mpjpe_mm(model, fed[1])}
        rows.append(row)
        print(row)
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "keypoint_shift_probe.json").write_text(json.dumps({"machine": machine, "sigma_m": args.sigma_m, "rows": rows}, indent=1))
    lines = ["| model (run) | 2D | clean MPJPE mm | shifted 2D MPJPE mm | lost |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} (`{r['run']}`) | {'filtered' if r['filtered_2d'] else 'raw'} | {r['clean_mm']:.1f} | "
              f"{r['shifted_mm']:.1f} | {r['shifted_mm'] - r['clean_mm']:+.1f} |" for r in rows]
    (RESULTS / "keypoint_shift_probe.md").write_text(
        "# Keypoint-shift probe: the validation views with every joint's 2D re-projected from a moved joint\n\n"
        f"Command: `.venv/bin/python benchmarks/keypoint_shift_probe.py --sigma-m {args.sigma_m}`. Machine: {machine}.\n"
        f"Subject hdm_bd through the randomised rig; offsets N(0, {args.sigma_m} m) per joint and axis, one per sequence; "
        "H=1, stitched windows.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
