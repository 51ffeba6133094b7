"""How late the published pose is: MPJPE against the truth d frames earlier, d = 0..3.

    .venv/bin/python benchmarks/input_lag.py --part val \
        --level causal-position=runs/level_causal_position/final.pt mlp-control-level=runs/level_mlp/best.pt

Each model lifts the `part` subjects through the given rigs as the node does (causal windows, H=1 +
mirroring, 2D through the node's One-Euro filter; level_camera.py). If a pose is closest to the truth
of an earlier frame, the output lags: from the window, or, when a single-frame model lags as much,
from the 2D filter in front of every model. `--filter MIN_CUTOFF_HZ BETA` feeds the same models 2D
through other One-Euro settings (the models unchanged; by default each is fed through the settings it was
trained behind). Writes benchmarks/results/input_lag_<part>[_filter<c>_<b>][_<tag>].{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch

from adaptation.keypoint_filter import KeypointFilter
from adaptation.metrics import sequences_acceleration_error
from level_camera import RESULTS, RIGS, Renders, fed_rig, lift, load_models

DELAYS = (0, 1, 2, 3)


def delayed_mpjpe_mm(poses: list[np.ndarray], truths: list[np.ndarray], delay: int) -> float:
    """Mean joint error of each pose against the truth `delay` frames before it (the first max(DELAYS) frames skipped)."""
    start = max(DELAYS)
    errors = [np.linalg.norm(p[start:] - t[start - delay:len(t) - delay], axis=-1).mean(-1) for p, t in zip(poses, truths)]
    return float(np.concatenate(errors).mean() * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), default="val")
    parser.add_argument("--level", nargs="+", required=True, help="name=checkpoint trained on levelled views")
    parser.add_argument("--rigs", nargs="*", choices=RIGS, default=list(RIGS))
    parser.add_argument("--filter", nargs=2, type=float, metavar=("MIN_CUTOFF_HZ", "BETA"),
                        help="the 2D filter's settings at evaluation for every model (default: each model's own, as the node runs it)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tag", default="", help="results under input_lag_<part>_<tag> (another set of models)")
    args = parser.parse_args()
    settings = dict(zip(("min_cutoff_hz", "beta"), args.filter)) if args.filter else {}
    try:
        KeypointFilter(**settings)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    models, filters = load_models(args.level)
    if args.filter:
        filters = {name: settings for name in models}
    rows = []
    for rig in args.rigs:
        fed, mounts = fed_rig(rig, args.part, Renders(), filters)
        for name, model in models.items():
            poses = [p.pose for p in lift(model, fed[name], mounts, window="causal")]
            truths = [s.pose_3d for s in fed[name]]
            rows.append({"rig": rig, "model": name, **{f"delay_{d}_mm": round(delayed_mpjpe_mm(poses, truths, d), 2) for d in DELAYS},
                         "accel_error_mm": round(sequences_acceleration_error([p * 1000 for p in poses], [t * 1000 for t in truths]), 2)})
            print(rows[-1], flush=True)
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    stem = f"input_lag_{args.part}" + (f"_filter{args.filter[0]:g}_{args.filter[1]:g}" if args.filter else "") + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": machine, "level": args.level, "filter": settings, "rows": rows}, indent=1))
    lines = ["| model | rig | " + " | ".join(f"truth {d} frames earlier" for d in DELAYS) + " | accel |", "|---" * (len(DELAYS) + 3) + "|"]
    lines += [f"| {r['model']} | {r['rig']} | " + " | ".join(f"{r[f'delay_{d}_mm']:.1f}" for d in DELAYS) + f" | {r['accel_error_mm']:.1f} |"
              for r in rows]
    (RESULTS / f"{stem}.md").write_text(
        f"# How late the published pose is, {args.part} subjects\n\nCommand: `.venv/bin/python benchmarks/input_lag.py --part {args.part} "
        f"--level {' '.join(args.level)}" + (f" --rigs {' '.join(args.rigs)}" if args.rigs != list(RIGS) else "")
        + (f" --filter {args.filter[0]:g} {args.filter[1]:g}" if args.filter else "") + (f" --tag {args.tag}" if args.tag else "") + f"`. Machine: {machine}.\nMPJPE mm, root-relative, causal windows, H=1 + mirroring, 2D through the "
        + (f"One-Euro filter at {args.filter[0]:g} Hz, beta {args.filter[1]:g}" if args.filter else "One-Euro filter each model was trained behind")
        + ", against the truth of the same frame and of 1-3 frames before it (30 fps renders); accel: acceleration "
        "error mm/frame² (level_camera.py's).\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
