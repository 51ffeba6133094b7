"""Whether the node should smooth its 3D output too, decided on the validation subject.

    .venv/bin/python benchmarks/pose_smoothing.py --part val

The default of session 9 (the last chosen without the validation subject in its training; exported
as shipped by accuracy_report.sh) as the node runs it (H=3 + mirroring, one window per frame, 2D through the
node's 2D filter) on the `part` subjects through the studio, robot, randomised and portrait rigs;
its root-relative 3D then through a One-Euro filter (adaptation.keypoint_filter.KeypointFilter)
with every setting of the grid, per window mode (causal: the node's default; centred).
The rule, written before the first sweep: per window mode, the setting with the lowest acceleration
error (mean over the four rigs) among those whose mean MPJPE is at most 0.3 mm above the
unfiltered output; adopted only if it cuts the acceleration error by at least 20%. (A first grid,
cutoffs 0.25-4 Hz and beta 0-4, cost 1.7 mm or more on studio views everywhere and was widened.)
Writes benchmarks/results/pose_smoothing_<part>.{json,md}.
"""
from __future__ import annotations

import argparse
import itertools
import json
import platform
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.clips import prepare
from adaptation.evaluate import predict_views
from adaptation.keypoint_filter import smooth_sequence, smoothed_views
from adaptation.metrics import sequences_acceleration_error
from splits import views

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results")
RIGS = ("studio", "robot", "randomized", "portrait")
MIN_CUTOFFS_HZ = (1.0, 2.0, 4.0, 8.0, 16.0)
BETAS = (0.0, 1.0, 4.0, 16.0, 64.0)
MPJPE_TOLERANCE_MM = 0.3
MIN_ACCEL_CUT = 0.2


def scores(poses: list[np.ndarray], truths: list[np.ndarray]) -> tuple[float, float]:
    """Frame-weighted MPJPE and acceleration error (mm, mm/frame^2) over sequences (metres in)."""
    errors = np.concatenate([np.linalg.norm(p - t, axis=-1).mean(-1) for p, t in zip(poses, truths)]) * 1000
    return float(errors.mean()), sequences_acceleration_error([p * 1000 for p in poses], [t * 1000 for t in truths])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), default="val")
    parser.add_argument("--model", default="runs/smooth_long_diffusion/shipped/lifter.pt", help="checkpoint, relative to the repository")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = checkpoint.load(REPO / args.model)
    card = json.loads((REPO / args.model).with_name("model.json").read_text())
    grid = [None] + [dict(min_cutoff_hz=c, beta=b) for c, b in itertools.product(MIN_CUTOFFS_HZ, BETAS)]
    rows = []
    for rig, window in itertools.product(RIGS, ("causal", "centered")):
        data = smoothed_views(views(f"{rig}_{args.part}"))
        sequences = prepare(data)
        predicted = [p.pose for p in predict_views(model, sequences, hypotheses=3, flip=card.get("flip", False), window=window)]
        truths = [s.pose_3d for s in sequences]
        fps = [s.fps for s in data.sequences]
        for settings in grid:
            poses = predicted if settings is None else [smooth_sequence(p, f, **settings) for p, f in zip(predicted, fps)]
            mpjpe, accel = scores(poses, truths)
            rows.append({"rig": rig, "window": window, "settings": settings, "mpjpe_mm": mpjpe, "accel_error_mm": accel})
            print(rows[-1])

    def mean_over_rigs(window: str, settings: dict | None) -> tuple[float, float]:
        picked = [r for r in rows if r["window"] == window and r["settings"] == settings]
        return float(np.mean([r["mpjpe_mm"] for r in picked])), float(np.mean([r["accel_error_mm"] for r in picked]))

    lines, chosen = [], {}
    for window in ("causal", "centered"):
        base_mpjpe, base_accel = mean_over_rigs(window, None)
        allowed = [s for s in grid[1:] if mean_over_rigs(window, s)[0] <= base_mpjpe + MPJPE_TOLERANCE_MM]
        best = min(allowed, key=lambda s: mean_over_rigs(window, s)[1], default=None)
        adopted = best is not None and mean_over_rigs(window, best)[1] <= (1 - MIN_ACCEL_CUT) * base_accel
        chosen[window] = best if adopted else None
        lines += [f"## {window} windows", "", f"Unfiltered: MPJPE {base_mpjpe:.2f} mm, accel {base_accel:.2f} mm/f² "
                  f"(mean over {', '.join(RIGS)}). Chosen: {chosen[window] or 'none'}.", "",
                  "| min cutoff Hz | " + " | ".join(f"beta {b}" for b in BETAS) + " |", "|---" * (len(BETAS) + 1) + "|"]
        for c in MIN_CUTOFFS_HZ:
            cells = [mean_over_rigs(window, dict(min_cutoff_hz=c, beta=b)) for b in BETAS]
            lines.append(f"| {c} | " + " | ".join(f"{m:.2f} / {a:.2f}" for m, a in cells) + " |")
        lines.append("")
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    RESULTS.mkdir(exist_ok=True)
    stem = f"pose_smoothing_{args.part}"
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": machine, "model": args.model, "chosen": chosen, "rows": rows}, indent=1))
    (RESULTS / f"{stem}.md").write_text(
        f"# The node's 3D output filter, {args.part} subjects\n\nCommand: `.venv/bin/python benchmarks/pose_smoothing.py "
        f"--part {args.part}`. Machine: {machine}. Model: {args.model} (H=3 + mirroring, 2D through the node's filter). "
        "Cells: MPJPE mm / acceleration error mm/frame², root-relative, mean over the rigs. Rule: lowest acceleration "
        f"error with MPJPE at most {MPJPE_TOLERANCE_MM} mm above unfiltered, adopted if it cuts the acceleration error "
        f"by {MIN_ACCEL_CUT:.0%} or more.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
