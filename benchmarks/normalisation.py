"""Which 2D normalisation should the lifter read? Measured with the single-frame MLP control.

    .venv/bin/python benchmarks/normalisation.py [--steps 3000] [--threads 1]

Three inputs, same model, data and budget (trained on randomised cameras, training subjects;
scored on validation subjects through the studio, robot, randomised and portrait rigs):
  image-width   x_n = 2x/w - [1, h/w], the raw coordinates (the method note's, shipped before)
  rays          intrinsics-normalised (x - c)/f, the raw coordinates
  rays-centred  intrinsics-normalised, centred on the pelvis and divided by the 2D size inside
                the model, with the pelvis ray and log size as extra features (the product's)
The image-width input is produced with the product's own code by giving every view a pretend
camera with f = w/2 and c = (w/2, h/2), whose rays are exactly 2x/w - [1, h/w].
Writes benchmarks/results/normalisation.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from adaptation import checkpoint
from adaptation.camera import Intrinsics
from adaptation.dataset import CameraViews, Sequence
from adaptation.evaluate import evaluate
from adaptation.model import LifterConfig
from adaptation.train import TrainConfig, train
from splits import CACHE, views

RESULTS = Path(__file__).with_name("results")
RUNS = Path(__file__).resolve().parents[1] / "runs" / "normalisation"
RIGS = ("studio", "robot", "randomized", "portrait")


def image_width_views(data: CameraViews) -> CameraViews:
    """The same views with pretend intrinsics whose rays are the width-normalised pixels."""
    def pretend(s: Sequence) -> Sequence:
        w, h = s.intrinsics.width, s.intrinsics.height
        return Sequence(s.name, s.keypoints_2d, s.confidence, Intrinsics(w / 2, w / 2, w / 2, h / 2, w, h), s.fps, s.keypoints_3d)
    return CameraViews([pretend(s) for s in data.sequences])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {"image-width": (image_width_views, False), "rays": (lambda v: v, False), "rays-centred": (lambda v: v, True)}
    rows = []
    for name, (convert, centre) in variants.items():
        train_path = CACHE / f"normalisation_{name}_train.npz"
        val_path = CACHE / f"normalisation_{name}_val.npz"
        convert(views("randomized_train")).save(train_path)
        convert(views("randomized_val")).save(val_path)
        config = TrainConfig(train_views=str(train_path), val_views=str(val_path), out_dir=str(RUNS / name),
                             steps=args.steps, batch_size=256, eval_every=500, threads=args.threads,
                             model=LifterConfig(frames=1, width=512, depth=2, dropout=0.1, architecture="mlp",
                                                objective="regression", centre_2d=centre))
        model_path = train(config, command=f"benchmarks/normalisation.py variant {name}")
        model, meta = checkpoint.load(model_path)
        for rig in RIGS:
            scores = evaluate(model, convert(views(f"{rig}_val")))["overall"]
            rows.append({"input": name, "rig": rig, "best_step": meta["step"],
                         **{k: round(v, 1) for k, v in scores.items()}})
            print(rows[-1])
    machine = f"{platform.machine()}, {args.threads} thread(s), torch {torch.__version__}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "normalisation.json").write_text(json.dumps({"machine": machine, "steps": args.steps, "rows": rows}, indent=1))
    lines = ["| input | " + " | ".join(f"{r} MPJPE / P-MPJPE" for r in RIGS) + " |", "|---" * (len(RIGS) + 1) + "|"]
    for name in variants:
        cells = [next(f"{r['mpjpe_mm']:.1f} / {r['p_mpjpe_mm']:.1f}" for r in rows if r["input"] == name and r["rig"] == rig)
                 for rig in RIGS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (RESULTS / "normalisation.md").write_text(
        "# 2D normalisation, measured with the single-frame MLP control\n\n"
        f"Command: `.venv/bin/python benchmarks/normalisation.py --steps {args.steps} --threads {args.threads}`. "
        f"Machine: {machine}.\nTrained on randomised-camera views of the training subjects (cmu_01, hdm_bk), "
        f"{args.steps} steps of 256 frames, checkpoint chosen on validation; scored on the validation subject "
        "(hdm_bd) through each rig, mm, H=1.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
