"""The upright camera (adaptation.camera): lifting a mounted camera's view with and without the turn by its roll.

    .venv/bin/python benchmarks/upright_camera.py --part val    # the choice: ship it or not
    .venv/bin/python benchmarks/upright_camera.py --part test   # the final table

Training cameras never roll; real mounts do (the Pose2Sim demo's cameras: -13 to +26 degrees). With
a known mount, the node turns the 2D by the roll before lifting and the 3D back after; `adapt` trains
in the same frame. Scored here: the shipped default and its two controls (the deterministic twin
and the single-frame MLP, both on filtered 2D like it), H=1 + test-time mirroring, covering windows,
on the `part` subjects through every rig with a fixed mount (adaptation/rigs: head_camera 4 degrees of
roll, low_robot and mild none, crooked_webcam -12, tilted_tripod 20), 2D through the node's filter.
Writes benchmarks/results/upright_camera_<part>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from adaptation import checkpoint
from adaptation.evaluate import evaluate
from adaptation.keypoint_filter import smoothed_views
from adaptation.mount import CameraMount
from adaptation.views import Rig
from splits import SUBJECTS, views

RESULTS = Path(__file__).with_name("results")
REPO = Path(__file__).resolve().parents[1]
RIGS = ("head_camera", "low_robot", "mild", "crooked_webcam", "tilted_tripod")
# The diffusion lifter is the last default chosen without the validation subject in its training
# (the default of session 9, exported as shipped: accuracy_report.sh); today's default learned that subject.
MODELS = {"default (diffusion)": REPO / "runs/smooth_long_diffusion/shipped/lifter.pt",
          "deterministic twin (control)": REPO / "runs/smooth_long_regression/best.pt",
          "single-frame MLP (control)": REPO / "runs/smooth_mlp/best.pt"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for rig_name in RIGS:
        spec = Rig.load(rig_name)
        roll, mount = spec.roll_deg, CameraMount(1.0, spec.pitch_deg, spec.roll_deg, "rig")
        data = smoothed_views(views(f"{rig_name}_{args.part}"))
        for name, path in MODELS.items():
            model, _ = checkpoint.load(path)
            for upright in (False, True):
                if upright and not roll:        # without roll the upright camera is the camera itself
                    rows.append({**rows[-1], "upright": True})
                    continue
                o = evaluate(model, data, flip=True, mount=mount if upright else None)["overall"]
                rows.append({"rig": rig_name, "roll_deg": roll, "model": name, "upright": upright,
                             "frames": o["frames"], "mpjpe_mm": round(o["mpjpe_mm"], 2), "p_mpjpe_mm": round(o["p_mpjpe_mm"], 2)})
                print(rows[-1], flush=True)
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    stem = f"upright_camera_{args.part}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": machine, "subjects": SUBJECTS[args.part],
                                                     "models": {k: str(v.relative_to(REPO)) for k, v in MODELS.items()},
                                                     "rows": rows}, indent=1))
    lines = ["| rig (roll) | model | MPJPE as the camera sees | MPJPE upright | P-MPJPE as the camera sees | P-MPJPE upright |",
             "|---|---|---|---|---|---|"]
    for rig_name in RIGS:
        for name in MODELS:
            plain, turned = (next(r for r in rows if r["rig"] == rig_name and r["model"] == name and r["upright"] == u)
                             for u in (False, True))
            lines.append(f"| {rig_name} ({plain['roll_deg']:+.0f}°) | {name} | {plain['mpjpe_mm']:.1f} | {turned['mpjpe_mm']:.1f} | "
                         f"{plain['p_mpjpe_mm']:.1f} | {turned['p_mpjpe_mm']:.1f} |")
    (RESULTS / f"{stem}.md").write_text(
        f"# The upright camera on the {args.part} subjects {', '.join(SUBJECTS[args.part])}\n\n"
        f"Command: `.venv/bin/python benchmarks/upright_camera.py --part {args.part}`. Machine: {machine}.\n"
        "Root-relative mm, H=1 + test-time mirroring, covering windows, 2D through the node's filter; "
        "'upright': 2D turned by the mount's roll before lifting, 3D turned back (adaptation.camera).\n\n"
        + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
