"""Score a lifter on labelled camera views: MPJPE, P-MPJPE, PCK@150, AUC (the `evaluate` CLI).

Every frame of every sequence is predicted (windows stitched, adaptation.clips) with H
hypotheses averaged and K DDIM steps; metrics are frame-weighted, per sequence and overall,
root-relative, in millimetres. Writes JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.clips import SequenceArrays, predict_sequence, prepare
from adaptation.dataset import CameraViews
from adaptation.diffusion import Sampler, sample_hypotheses
from adaptation.metrics import all_metrics
from adaptation.model import Denoiser


def predict_views(model: Denoiser, views: CameraViews | list[SequenceArrays], hypotheses: int = 1, k: int = 1,
                  flip: bool = False, seed: int = 0) -> list[np.ndarray]:
    """Root-relative 3D (T, 17, 3) metres for every sequence (mean of the hypotheses); `views` may be
    already prepared (adaptation.clips.prepare)."""
    sequences = prepare(views) if isinstance(views, CameraViews) else views
    sampler = Sampler(model.eval(), k=k, flip=flip)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)

    @torch.no_grad()
    def predict(windows: np.ndarray) -> np.ndarray:
        kp = torch.from_numpy(windows).to(device)
        return sample_hypotheses(sampler, kp, hypotheses, generator).mean(1).cpu().numpy()

    return [predict_sequence(predict, s.keypoints_2d, model.config.frames) for s in sequences]


def evaluate(model: Denoiser, views: CameraViews, **sampling) -> dict:
    """Overall and per-sequence metrics (mm) of `model` on labelled `views`."""
    if not views.labelled:
        raise ValueError("evaluation needs 3D labels (keypoints_3d) in every sequence")
    sequences = prepare(views)
    predictions = predict_views(model, sequences, **sampling)
    targets = [s.pose_3d for s in sequences]
    per_sequence = {s.name: all_metrics(p * 1000, t * 1000) for s, p, t in zip(views.sequences, predictions, targets)}
    overall = all_metrics(np.concatenate(predictions) * 1000, np.concatenate(targets) * 1000)
    return {"overall": overall, "sequences": per_sequence}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="lifter checkpoint (default: the shipped model)")
    parser.add_argument("--views", required=True, help="labelled camera-view dataset (.npz)")
    parser.add_argument("--hypotheses", type=int, default=1, help="H: hypotheses averaged per window")
    parser.add_argument("--steps", type=int, default=1, help="K: DDIM steps")
    parser.add_argument("--flip", action="store_true", help="average with the mirrored input")
    parser.add_argument("--out", default=None, help="JSON report path (default: print only)")
    args = parser.parse_args(argv)
    try:
        model, meta = checkpoint.load(args.model)
        views = CameraViews.load(args.views)
        started = time.time()
        report = evaluate(model, views, hypotheses=args.hypotheses, k=args.steps, flip=args.flip)
    except (OSError, ValueError) as error:
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 1
    report["settings"] = {"model": args.model or str(checkpoint.DEFAULT_MODEL), "views": args.views,
                          "hypotheses": args.hypotheses, "steps": args.steps, "flip": args.flip,
                          "seconds": round(time.time() - started, 1)}
    o = report["overall"]
    print(f"evaluate: {o['frames']} frames  MPJPE {o['mpjpe_mm']:.1f} mm  P-MPJPE {o['p_mpjpe_mm']:.1f} mm  "
          f"PCK@150 {o['pck150']:.1f}%  AUC {o['auc']:.1f}%")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
