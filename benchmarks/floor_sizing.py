"""Which frames to size a person from: the floor-sized MPJPE for several MIN_ANKLE_RAY_DEG thresholds.

    .venv/bin/python benchmarks/floor_sizing.py --part val \
        --level causal-position=runs/level_causal_position/final.pt mlp-control-level=runs/level_mlp/best.pt

Each model lifts the `part` subjects through the six rigs once (causal windows, H=1 + mirroring, as
level_camera.py), then the poses are sized from the floor as the node does (level_camera.floor_sized)
with each threshold: frames whose lower ankle is seen less than that many degrees below the horizon
are not used, and a track with none keeps the lifter's size. Writes benchmarks/results/floor_sizing_<part>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch
from tqdm import tqdm

from level_camera import RESULTS, RIGS, Renders, fed_rig, floor_sized, lift, load_models, solved_roots, with_floor

THRESHOLDS_DEG = (0.0, 3.0, 5.0, 8.0, 12.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), default="val")
    parser.add_argument("--level", nargs="+", required=True, help="name=checkpoint trained on levelled views")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models, filters = load_models(args.level)
    renders, rows = Renders(), []
    for rig in tqdm(RIGS, desc="rigs"):
        fed, mounts = fed_rig(rig, args.part, renders, filters)
        labelled = next(iter(fed.values()))        # the truth, whatever the 2D filter
        floors = [with_floor(m, s) for m, s in zip(mounts, labelled)]
        truth = np.concatenate([s.pose_3d for s in labelled]) * 1000
        subjects = np.concatenate([[s.name.split("/")[0]] * len(s.keypoints_2d) for s in renders.views(f"{rig}_{args.part}").sequences])
        for name, model in models.items():
            poses = [p.pose for p in lift(model, fed[name], mounts, window="causal")]
            errors = {"raw_mpjpe_mm": np.linalg.norm(np.concatenate(poses) * 1000 - truth, axis=-1).mean(-1)}
            roots = solved_roots(poses, fed[name])
            for threshold in THRESHOLDS_DEG:
                sized = np.concatenate(floor_sized(poses, fed[name], floors, threshold, roots)) * 1000
                errors[f"floor_{threshold:g}deg_mm"] = np.linalg.norm(sized - truth, axis=-1).mean(-1)
            for subject in ["all", *sorted(set(subjects))]:     # per subject: one may not stand on one floor
                keep = np.ones(len(subjects), bool) if subject == "all" else subjects == subject
                rows.append({"rig": rig, "model": name, "subject": subject, "frames": int(keep.sum()),
                             **{column: round(float(e[keep].mean()), 2) for column, e in errors.items()}})
                tqdm.write(str(rows[-1]))
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    stem = RESULTS / f"floor_sizing_{args.part}"
    stem.with_suffix(".json").write_text(json.dumps({"machine": machine, "level": args.level, "rows": rows}, indent=1))
    columns = ["raw_mpjpe_mm"] + [f"floor_{t:g}deg_mm" for t in THRESHOLDS_DEG]
    lines = ["| model | rig | lifter's size | " + " | ".join(f"floor, {t:g} deg" for t in THRESHOLDS_DEG) + " |",
             "|---" * (len(columns) + 2) + "|"]
    for name in models:
        picked = [r for r in rows if r["model"] == name and r["subject"] == "all"]
        for r in picked + [{"rig": "mean", **{c: np.mean([r[c] for r in picked]) for c in columns}}]:
            lines.append(f"| {name} | {r['rig']} | " + " | ".join(f"{r[c]:.1f}" for c in columns) + " |")
    lines += ["", "Per subject, mean over the six rigs:", "", "| model | subject (frames per rig) | lifter's size | "
              + " | ".join(f"floor, {t:g} deg" for t in THRESHOLDS_DEG) + " |", "|---" * (len(columns) + 2) + "|"]
    for name in models:
        for subject in sorted({r["subject"] for r in rows} - {"all"}):
            picked = [r for r in rows if r["model"] == name and r["subject"] == subject]
            lines.append(f"| {name} | {subject} ({np.mean([r['frames'] for r in picked]):.0f}) | "
                         + " | ".join(f"{np.mean([r[c] for r in picked]):.1f}" for c in columns) + " |")
    stem.with_suffix(".md").write_text(
        f"# Sizing from the floor, {args.part} subjects\n\nCommand: `.venv/bin/python benchmarks/floor_sizing.py --part {args.part} "
        f"--level {' '.join(args.level)}`. Machine: {machine}.\nMPJPE mm, root-relative, causal windows, H=1 + mirroring: the "
        "lifter's own size, and sized from the floor per sequence skipping frames whose lower ankle is seen less than "
        "the threshold below the horizon.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
