"""Accuracy of source-trained lifters on held-out subjects, through the studio and the robot rig.

    .venv/bin/python benchmarks/lifter_accuracy.py [--models runs/studio/final.pt ...]

Scores each model (H=1, K=1, the deployment setting; on robot views also H=5 averaged) on studio and robot views
of subjects not trained on, and writes benchmarks/results/lifter_accuracy.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from adaptation import checkpoint
from adaptation.evaluate import evaluate, predict_views
from adaptation.plots import plot_skeletons
from splits import views

RESULTS = Path(__file__).with_name("results")
TRAINED = Path(__file__).resolve().parents[1] / "runs"       # benchmarks/train_source_models.sh writes here
DEFAULT_MODELS = {"studio-only (a)": str(TRAINED / "studio/final.pt"),
                  "randomised cameras (b)": str(TRAINED / "randomized/final.pt"),
                  "robot-camera oracle (c)": str(TRAINED / "oracle/final.pt")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="name=path.pt pairs (default: the three source models)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = dict(m.split("=", 1) for m in args.models) if args.models else DEFAULT_MODELS
    test_sets = {"studio rig": views("studio_test"), "robot rig": views("robot_test")}
    rows = []
    for name, path in models.items():
        model, meta = checkpoint.load(path)
        for rig, data in test_sets.items():
            for hypotheses in ((1, 5) if rig == "robot rig" else (1,)):
                started = time.time()
                overall = evaluate(model, data, hypotheses=hypotheses, k=1)["overall"]
                rows.append({"model": name, "checkpoint": path, "test": rig, "hypotheses": hypotheses,
                             **{k: round(v, 2) for k, v in overall.items()}, "seconds": round(time.time() - started, 1)})
                print(rows[-1])
    robot = test_sets["robot rig"]
    sequence, frame = len(robot.sequences) // 3, 40
    truth = robot.sequences[sequence].keypoints_3d[frame]
    poses = {"ground truth": truth - truth[0]}
    for name, path in models.items():
        model, _ = checkpoint.load(path)
        poses[name] = predict_views(model, type(robot)([robot.sequences[sequence]]))[0][frame]
    plot_skeletons(poses, RESULTS / "lifter_robot_view_example.png",
                   title=f"robot view: {robot.sequences[sequence].name}, frame {frame}")
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lifter_accuracy.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = ["| model | test views | H | MPJPE mm | P-MPJPE mm | PCK@150 % | AUC % | frames |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['test']} | {r['hypotheses']} | {r['mpjpe_mm']:.1f} | {r['p_mpjpe_mm']:.1f} | "
              f"{r['pck150']:.1f} | {r['auc']:.1f} | {r['frames']} |" for r in rows]
    (RESULTS / "lifter_accuracy.md").write_text(
        "# Source lifters on held-out subjects (cmu_03, hdm_dg)\n\n"
        "Command: `.venv/bin/python benchmarks/lifter_accuracy.py`; models from `benchmarks/train_source_models.sh`.\n"
        f"Machine: {machine}.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
