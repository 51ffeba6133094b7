"""Ship a trained lifter as the default model (adaptation/models/default).

    .venv/bin/python benchmarks/ship_default.py runs/pose_randomized/best.pt --rig randomized

Fits the per-joint uncertainty on the validation views of the rig it was trained through (never
on test data), their 2D through the filter the node runs in front of it, for H = 1 and 3, exports lifter.pt + lifter.onnx (parity checked) + model.json
with the training budget, and replaces the shipped directory atomically. A model trained on the
validation subject too (`train_source_models.sh final-diffusion`) would find its own errors there
too small: `--calibrate-with` fits the calibration on the predictions of its twin trained without
that subject (same recipe), whose errors there are those of a subject never seen. A level-camera
model (LifterConfig.lifting_camera) is calibrated on levelled validation views (`--calibration-views
runs/level_data/randomized_val_level.npz`, from benchmarks/level_camera.py prepare) and shipped beside
the default (`--out adaptation/models/level`).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.dataset import CameraViews
from adaptation.evaluate import fit_uncertainty
from adaptation.export import export_model_dir, onnx_parity
from adaptation.keypoint_filter import KeypointFilter, node_filter_settings, smoothed_views
from adaptation.mount import CameraMount
from adaptation.skeleton import NUM_JOINTS
from adaptation.views import NOISE, OUTLIER_RATE
from splits import views

REPO = Path(__file__).resolve().parents[1]
# The repository's copy (runtime.DEFAULT_MODEL_DIR is the installed one, which `make setup` links here).
SOURCE_MODEL_DIR = REPO / "adaptation" / "models" / "default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--rig", required=True, help="the rig it was trained through (its <rig>_val views calibrate)")
    parser.add_argument("--out", type=Path, default=SOURCE_MODEL_DIR)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--flip", action="store_true", help="test-time mirroring in the exported graph (2x cost)")
    parser.add_argument("--calibration-views", type=Path, default=None,
                        help="validation views to calibrate on (.npz; default: the rig's <rig>_val views)")
    parser.add_argument("--calibrate-with", type=Path, default=None,
                        help="checkpoint of the same recipe trained without the validation subject: fit the uncertainty on its predictions")
    parser.add_argument("--noise", type=float, default=NOISE,
                        help="the detector noise of the renders it was trained on (recorded for `adapt`)")
    parser.add_argument("--outlier-rate", type=float, default=OUTLIER_RATE, help="their outlier share (likewise)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, meta = checkpoint.load(args.checkpoint)
    if args.calibration_views is None:
        validation, fitted_on = views(f"{args.rig}_val"), f"{args.rig}_val"
    else:
        validation, fitted_on = CameraViews.load(args.calibration_views), args.calibration_views.name
    its_filter = node_filter_settings(meta)
    validation = smoothed_views(validation, **its_filter)
    fitted_on += f" (subject hdm_bd, 2D through the node's filter for it: {KeypointFilter(**its_filter).describe()})"
    calibrator = model
    if args.calibrate_with is not None:
        calibrator, _ = checkpoint.load(args.calibrate_with)
        fitted_on += f", predictions of {args.calibrate_with.resolve().relative_to(REPO)} (trained without it)"
    # a level model's calibration views are levelled already: their mount is a level one (no turn)
    level = CameraMount(1.0, 0.0, 0.0, "levelled views") if model.config.lifting_camera == "level" else None
    calibrations = [fit_uncertainty(calibrator, validation, h, fitted_on, flip=args.flip, mount=level).to_dict() for h in (1, 3)]
    history_path = args.checkpoint.parent / "history.json"
    history = json.loads(history_path.read_text()) if history_path.is_file() else {}
    seconds = dict(zip(history.get("val_step", []), history.get("val_seconds", [])))
    card = {"source_rig": args.rig, "command": meta.get("command"), "step": meta.get("step"),
            "val_mpjpe_mm": meta.get("val_mpjpe_mm"), "train_seconds_to_step": seconds.get(meta.get("step")),
            "train_config": meta.get("train_config"), "uncertainty": calibrations,
            "training_2d_noise": {"noise": args.noise, "outlier_rate": args.outlier_rate}}
    partial = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    export_model_dir(model, partial, k=1, flip=args.flip, **card)
    for extra in ("MODEL_CARD.md",):
        if (args.out / extra).is_file():
            shutil.copy(args.out / extra, partial / extra)
    rng = np.random.default_rng(0)
    frames = model.config.frames
    error = onnx_parity(partial / "lifter.onnx", model, rng.normal(scale=0.3, size=(4, frames, NUM_JOINTS, 2)),
                        rng.normal(size=(4, frames, NUM_JOINTS, 3)), flip=args.flip)
    if error > 1e-4:
        raise SystemExit(f"ONNX parity {error:.2e} m is too large; nothing shipped")
    shutil.rmtree(args.out, ignore_errors=True)
    partial.replace(args.out)
    print(f"shipped {args.checkpoint} (step {meta.get('step')}, validation MPJPE {meta.get('val_mpjpe_mm')} mm) -> {args.out}; "
          f"ONNX parity {error:.1e} m; uncertainty base {np.mean(calibrations[1]['base_m']) * 1000:.0f} mm, "
          f"gain {calibrations[1]['spread_gain']:.2f} at H=3")


if __name__ == "__main__":
    main()
