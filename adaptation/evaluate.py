"""Score a lifter on labelled camera views (the `evaluate` CLI).

Every frame of every sequence is predicted (windows stitched, adaptation.clips) with H
hypotheses averaged and K DDIM steps. Reported, root-relative (pelvis zeroed in prediction and
truth), in millimetres, frame-weighted: MPJPE, P-MPJPE, PCK@150, AUC and acceleration error,
overall and separately for frames where the whole body is in the image ("in_view") and where it
is not ("truncated"); with a calibration (or H > 1), how well the per-joint uncertainty predicts
the error. Writes JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.camera import turn_back, turn_keypoints
from adaptation.clips import WINDOWS, SequenceArrays, predict_sequence, prepare
from adaptation.dataset import CameraViews
from adaptation.diffusion import SPACINGS, Sampler
from adaptation.metrics import all_metrics, sequences_acceleration_error
from adaptation.mount import CameraMount, lifting_rotation_for
from adaptation.skeleton import root_relative
from adaptation.uncertainty import UncertaintyCalibration, calibration_report, fit, summarize_hypotheses


@dataclass
class Prediction:
    pose: np.ndarray     # (T, J, 3) metres, root-relative: mean of the hypotheses
    spread: np.ndarray   # (T, J) metres: RMS distance of the hypotheses from their mean (0 at H=1)


def predict_views(model: torch.nn.Module, views: CameraViews | list[SequenceArrays], hypotheses: int = 1, k: int = 1,
                  flip: bool = False, seed: int = 0, window: str = "stitched", aggregation: str = "mean",
                  mount: CameraMount | list[CameraMount] | None = None, eta: float = 0.0,
                  spacing: str = "uniform") -> list[Prediction]:
    """Predictions for every sequence, in its camera's frame; `views` may be already prepared
    (adaptation.clips.prepare). With the camera `mount` (one for all sequences, or one each), lifted in
    the camera the model reads (adaptation.camera: upright or level) as the node does; a level model
    needs the mount.
    As in the node, each sequence (a track) keeps one draw of starting noise for all its windows;
    window: 'causal' or 'centered' (one window per frame, as the node's window_mode), 'stitched' or 'static'
    (adaptation.clips.predict_sequence);
    aggregation of the H hypotheses: adaptation.uncertainty.summarize_hypotheses; eta, spacing: adaptation.diffusion.Sampler."""
    sequences = prepare(views) if isinstance(views, CameraViews) else views
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    sampler = Sampler(model.eval(), k=k, flip=flip, eta=eta, generator=generator, spacing=spacing)
    frames = model.config.frames
    mounts = mount if isinstance(mount, list) else [mount] * len(sequences)
    rotations = [lifting_rotation_for(m, model.config.lifting_camera) for m in mounts]

    @torch.no_grad()
    def predict(windows: np.ndarray, noise: torch.Tensor) -> np.ndarray:
        kp = torch.from_numpy(windows).to(device).repeat_interleave(hypotheses, dim=0)
        poses = sampler(kp, noise.repeat(len(windows), 1, 1, 1)).reshape(len(windows), hypotheses, *kp.shape[1:-1], 3)
        pose, spread = summarize_hypotheses(poses.transpose(0, 1).cpu().numpy(), windows, aggregation)
        return np.concatenate([pose, spread[..., None]], axis=-1)

    out = []
    for s, rotation in zip(sequences, rotations, strict=True):
        noise = torch.randn(hypotheses, frames, s.keypoints_2d.shape[1], 3, generator=generator, device=device)
        stitched = predict_sequence(lambda w: predict(w, noise), turn_keypoints(s.keypoints_2d, rotation), frames, window=window)
        out.append(Prediction(turn_back(root_relative(stitched[..., :3]), rotation), stitched[..., 3]))
    return out


def _scores(predicted: list[np.ndarray], targets: list[np.ndarray]) -> dict:
    """all_metrics over the frames of several sequences + their frame-weighted acceleration error (mm)."""
    scores = all_metrics(np.concatenate(predicted) * 1000, np.concatenate(targets) * 1000)
    scores["accel_error_mm"] = sequences_acceleration_error([p * 1000 for p in predicted], [t * 1000 for t in targets])
    return scores


def evaluate(model: torch.nn.Module, views: CameraViews, hypotheses: int = 1, k: int = 1, flip: bool = False,
             seed: int = 0, calibration: UncertaintyCalibration | None = None, aggregation: str = "mean",
             window: str = "stitched", mount: CameraMount | list[CameraMount] | None = None, eta: float = 0.0,
             spacing: str = "uniform") -> dict:
    """Overall, in-view, truncated and per-sequence metrics (mm) of `model` on labelled `views`;
    with a calibration or H > 1 also the uncertainty report ('uncertainty', raw spread if uncalibrated).
    window, mount: see predict_views ('causal' is what the node does by default)."""
    if not views.labelled:
        raise ValueError("evaluation needs 3D labels (keypoints_3d) in every sequence")
    sequences = prepare(views)
    predictions = predict_views(model, sequences, hypotheses=hypotheses, k=k, flip=flip, seed=seed, aggregation=aggregation,
                                window=window, mount=mount, eta=eta, spacing=spacing)
    poses = [p.pose for p in predictions]
    targets = [s.pose_3d for s in sequences]
    in_view = np.concatenate([s.intrinsics.in_view(s.intrinsics.pixels_of(s.keypoints_3d)) for s in views.sequences])
    report = {
        "overall": _scores(poses, targets),
        "sequences": {s.name: _scores([p], [t]) for s, p, t in zip(views.sequences, poses, targets)},
        "in_view_fraction": float(in_view.mean()),
    }
    all_poses, all_targets = np.concatenate(poses) * 1000, np.concatenate(targets) * 1000
    for name, mask in (("in_view", in_view), ("truncated", ~in_view)):
        if mask.any():
            report[name] = all_metrics(all_poses[mask], all_targets[mask])
    if calibration is not None or hypotheses > 1:
        spread = np.concatenate([p.spread for p in predictions])
        uncertainty = calibration.apply(spread) if calibration is not None else spread
        error = np.linalg.norm(all_poses - all_targets, axis=-1) / 1000
        report["uncertainty"] = {"calibrated": calibration is not None, **calibration_report(uncertainty, error)}
    return report


def fit_uncertainty(model: torch.nn.Module, views: CameraViews, hypotheses: int, name: str = "",
                    aggregation: str = "mean", flip: bool = False, mount: CameraMount | None = None) -> UncertaintyCalibration:
    """Fit the per-joint uncertainty calibration of `model` at H hypotheses on labelled (validation) views."""
    sequences = prepare(views)
    predictions = predict_views(model, sequences, hypotheses=hypotheses, aggregation=aggregation, flip=flip, mount=mount)
    error = np.concatenate([np.linalg.norm(p.pose - s.pose_3d, axis=-1) for p, s in zip(predictions, sequences)])
    return fit(np.concatenate([p.spread for p in predictions]), error, hypotheses, fitted_on=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="lifter checkpoint (default: the shipped model)")
    parser.add_argument("--views", required=True, help="labelled camera-view dataset (.npz)")
    parser.add_argument("--hypotheses", type=int, default=1, help="H: hypotheses averaged per window")
    parser.add_argument("--steps", type=int, default=1, help="K: DDIM steps")
    parser.add_argument("--eta", type=float, default=0.0,
                        help="0: deterministic DDIM (what the node runs); 1: fresh noise at every step (DDPM-like)")
    parser.add_argument("--spacing", choices=SPACINGS, default="uniform", help="where the K steps sit (adaptation.diffusion)")
    parser.add_argument("--flip", action="store_true", help="average with the mirrored input")
    parser.add_argument("--aggregation", choices=("mean", "reprojection"), default="mean",
                        help="how H hypotheses become one pose (adaptation.uncertainty.summarize_hypotheses)")
    parser.add_argument("--window", choices=WINDOWS, default="stitched",
                        help="windows covering each sequence, or one per frame as the node runs (causal: its default), "
                             "or each frame alone (static)")
    parser.add_argument("--out", default=None, help="JSON report path (default: print only)")
    args = parser.parse_args(argv)
    try:
        model, meta = checkpoint.load(args.model)
        views = CameraViews.load(args.views)
        started = time.time()
        report = evaluate(model, views, hypotheses=args.hypotheses, k=args.steps, flip=args.flip,
                          aggregation=args.aggregation, window=args.window, eta=args.eta, spacing=args.spacing)
    except (OSError, ValueError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 1
    report["settings"] = {"model": args.model or str(checkpoint.DEFAULT_MODEL), "views": args.views,
                          "hypotheses": args.hypotheses, "steps": args.steps, "eta": args.eta, "spacing": args.spacing, "flip": args.flip,
                          "aggregation": args.aggregation, "window": args.window,
                          "seconds": round(time.time() - started, 1)}
    o = report["overall"]
    print(f"evaluate: {o['frames']} frames  MPJPE {o['mpjpe_mm']:.1f} mm  P-MPJPE {o['p_mpjpe_mm']:.1f} mm  "
          f"PCK@150 {o['pck150']:.1f}%  AUC {o['auc']:.1f}%  accel {o['accel_error_mm']:.1f} mm/frame^2  "
          f"in view {100 * report['in_view_fraction']:.0f}%")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
