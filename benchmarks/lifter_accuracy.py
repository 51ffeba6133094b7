"""Accuracy of the lifter and its controls on held-out subjects, through every rig.

    .venv/bin/python benchmarks/lifter_accuracy.py --part val    # every choice is made on this
    .venv/bin/python benchmarks/lifter_accuracy.py --part test   # the final table, once
    ... --runs long_diffusion     # score only these runs, keep the other rows of the results file

Models (benchmarks/train_source_models.sh, `MODELS` below): the diffusion lifter (pose-token
denoiser), the same denoiser as a deterministic regressor, the single-frame MLP, and the earlier
MixSTE-style (joint-token) lifter, each checkpoint chosen on the validation subject; the three
first also trained on the node's filtered 2D (`--smooth_2d`), and those once more on the training
and validation subjects together when every choice had been made (`final-*`: final weights, test
part only, HELD_OUT_TWINS). Each is scored on the `part`
subjects through the studio, robot, randomised and portrait rigs at H=1 (K=1, the deployment
setting); diffusion lifters also at H=3 with their uncertainty calibrated on the validation views
of their training rig. The shipped default and the three defaults before it (DEPLOYED) are also scored at
H=3 with test-time mirroring, as exported, and so with one window per frame as the node runs
them: causal (its default) and centred. Every other row covers each sequence with windows
("stitched"). "node's 2D filter": the 2D first goes through the node's One-Euro filter
(adaptation.keypoint_filter), as on a robot. A model trained on raw 2D gets that row at H=1 (and,
if DEPLOYED, as the node runs it: H=3 + mirror, causal windows); a model trained on filtered 2D is
scored on filtered 2D only, its uncertainty calibrated on filtered validation 2D, and also at H=1 with
test-time mirroring, so that the controls are compared with the shipped default mirrored alike.
Root-relative mm; in-view / truncated = frames where the whole body is / is not in the image.
Writes benchmarks/results/lifter_accuracy_<part>.{json,md}.
"""
from __future__ import annotations

import argparse
import functools
import json
import platform
from pathlib import Path

import torch

from adaptation import checkpoint
from adaptation.dataset import CameraViews
from adaptation.evaluate import evaluate, fit_uncertainty
from adaptation.keypoint_filter import filter_settings, node_filter_settings, smoothed_views
from splits import SUBJECTS, views

RESULTS = Path(__file__).with_name("results")
RUNS = Path(__file__).resolve().parents[1] / "runs"
TEST_RIGS = ("studio", "robot", "randomized", "portrait")
KINDS = {"diffusion": "diffusion lifter, raw 2D (trained on randomised views: an earlier default)", "regression": "same denoiser, deterministic (control)",
         "mlp": "single-frame MLP (control)", "mixste": "MixSTE-style diffusion lifter (first default)",
         "diffusion-2x": "diffusion lifter, 2x steps + EMA (not shipped)",
         "regression-2x": "same denoiser, deterministic, 2x steps + EMA",
         "diffusion-shift": "diffusion lifter, keypoint-shift augmentation (not shipped)",
         "diffusion-filtered": "diffusion lifter, trained on filtered 2D (previous default)",
         "regression-filtered": "same denoiser, deterministic, trained on filtered 2D",
         "mlp-filtered": "single-frame MLP, trained on filtered 2D",
         "diffusion-filtered-2x": "diffusion lifter, filtered 2D, 2x steps + EMA (previous default)",
         "regression-filtered-2x": "same denoiser, deterministic, filtered 2D, 2x steps + EMA",
         "diffusion-final": "the same diffusion lifter, trained on training + validation subjects (the default)",
         "regression-final": "its deterministic twin, trained on training + validation subjects",
         "mlp-final": "single-frame MLP, filtered 2D, trained on training + validation subjects",
         "diffusion-final-seed": "the default's recipe on training + validation subjects, another seed",
         "regression-final-seed": "its deterministic twin, another seed",
         "mlp-final-seed": "the single-frame MLP on training + validation subjects, another seed"}
MODELS = [  # (trained through rig, kind, run directory under runs/)
    ("randomized", "diffusion", "pose_randomized"), ("randomized", "regression", "pose_regression"),
    ("randomized", "mlp", "randomized_mlp"), ("randomized", "mixste", "randomized_diffusion"),
    ("studio", "diffusion", "pose_studio"), ("studio", "mlp", "studio_mlp"), ("robot", "mlp", "robot_mlp"),
    ("randomized", "diffusion-2x", "long_diffusion"), ("randomized", "regression-2x", "long_regression"),
    ("studio", "diffusion-2x", "long_studio"), ("randomized", "diffusion-shift", "shift_diffusion"),
    ("randomized", "diffusion-filtered", "smooth_diffusion"), ("randomized", "regression-filtered", "smooth_regression"),
    ("randomized", "mlp-filtered", "smooth_mlp"), ("randomized", "diffusion-filtered-2x", "smooth_long_diffusion"),
    ("randomized", "regression-filtered-2x", "smooth_long_regression"),
    ("randomized", "diffusion-final", "final_diffusion"), ("randomized", "regression-final", "final_regression"),
    ("randomized", "mlp-final", "final_mlp"),
    ("randomized", "diffusion-final-seed", "final_diffusion_seed1"), ("randomized", "regression-final-seed", "final_regression_seed1"),
    ("randomized", "mlp-final-seed", "final_mlp_seed1"), ("randomized", "mlp-final-seed", "final_mlp_seed2"),
]
# Retrained on the validation subject too once every choice was made (final weights, no checkpoint
# choice), any seed (final_<name>_seed<N>): scored on the test subjects only, their uncertainty
# calibrated with the predictions of their twin trained without that subject (ship_default.py --calibrate-with).
HELD_OUT_TWINS = {"final_diffusion": "smooth_long_diffusion", "final_regression": "smooth_long_regression",
                  "final_mlp": "smooth_mlp"}


def held_out_twin(run: str) -> str | None:
    """The run of the same recipe trained without the validation subject, for a run trained with it; else None."""
    return HELD_OUT_TWINS.get(run.split("_seed")[0])


# Scored also as exported (H=3 + mirror) and as the node runs them: the shipped default
# (adaptation/models/default, benchmarks/ship_default.py --flip) and the three defaults before it.
DEPLOYED = ("final_diffusion", "smooth_long_diffusion", "smooth_diffusion", "pose_randomized")


@functools.cache
def raw_and_filtered(split: str, settings: tuple) -> tuple[CameraViews, CameraViews]:
    """A split's views as rendered and through the 2D filter (its settings as sorted pairs), made once for
    every model that reads them."""
    data = views(split)
    return data, smoothed_views(data, **dict(settings))


def setting_key(row: dict) -> tuple:
    """What tells apart two result rows of one checkpoint (rows of earlier versions lack the newer keys)."""
    return (row["test_rig"], row["hypotheses"], row.get("flip", False), row.get("window", "stitched"),
            row.get("filtered_2d", False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rigs", nargs="*", default=list(TEST_RIGS))
    parser.add_argument("--runs", nargs="*", choices=[run for _, _, run in MODELS],
                        help="score only these runs (their rows already scored for the same checkpoint are kept); "
                             "the rows of the others come from the existing results file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stem = f"lifter_accuracy_{args.part}"
    previous = json.loads((RESULTS / f"{stem}.json").read_text())["rows"] if args.runs else []
    rows = []
    for train_rig, kind, run in MODELS:
        if args.runs and run not in args.runs:
            rows += [r for r in previous if Path(r["checkpoint"]).parent.name == run]
            continue
        twin = held_out_twin(run)
        if twin and args.part == "val":
            continue
        path = RUNS / run / ("final.pt" if twin else "best.pt")
        if not path.is_file():
            print(f"skipping {path}: not trained (benchmarks/train_source_models.sh)")
            continue
        model, meta = checkpoint.load(path)
        filtered_only = filter_settings(meta) is not None
        its_filter = tuple(sorted(node_filter_settings(meta).items()))    # what the node runs in front of it
        raw_validation, filtered_validation = raw_and_filtered(f"{train_rig}_val", its_filter)
        validation = filtered_validation if filtered_only else raw_validation
        settings = [(1, None, False, "stitched")]      # (H, uncertainty calibration, mirroring, windows)
        if filtered_only:           # controls and lifter mirrored alike: the default's test-time mirroring, like for like
            settings.append((1, None, True, "stitched"))
        if kind.startswith("diffusion") or kind == "mixste":       # every DEPLOYED run is one
            calibrator = checkpoint.load(RUNS / twin / "best.pt")[0] if twin else model
            settings.append((3, fit_uncertainty(calibrator, validation, 3, f"{train_rig}_val"), False, "stitched"))
        if run in DEPLOYED:
            shipped = fit_uncertainty(calibrator, validation, 3, f"{train_rig}_val", flip=True)
            settings += [(3, shipped, True, window) for window in ("stitched", "causal", "centered")]
        settings = [(*setting, filtered_only) for setting in settings]      # + the node's 2D filter
        if not filtered_only:           # the same model behind the node's filter, as deployed
            settings.append((1, None, False, "stitched", True))
            if run in DEPLOYED:
                settings.append((3, shipped, True, "causal", True))
        # with --runs, rows already scored for this very checkpoint are kept (scoring is seeded)
        scored = {setting_key(r): r for r in previous
                  if Path(r["checkpoint"]).parent.name == run and r["best_step"] == meta.get("step")}
        for rig in args.rigs:
            data, filtered = raw_and_filtered(f"{rig}_{args.part}", its_filter)
            for hypotheses, calibration, flip, window, smooth in settings:
                if (rig, hypotheses, flip, window, smooth) in scored:
                    rows.append(scored[rig, hypotheses, flip, window, smooth])
                    continue
                report = evaluate(model, filtered if smooth else data, hypotheses=hypotheses, calibration=calibration,
                                  flip=flip, window=window)
                o = report["overall"]
                row = {"trained_on": train_rig, "model": kind, "checkpoint": str(path.relative_to(RUNS.parent)),
                       "best_step": meta.get("step"), "test_rig": rig, "hypotheses": hypotheses, "flip": flip, "window": window,
                       "filtered_2d": smooth,
                       **{k: round(v, 2) for k, v in o.items()},
                       "in_view_mpjpe_mm": round(report["in_view"]["mpjpe_mm"], 2),
                       "truncated_mpjpe_mm": round(report["truncated"]["mpjpe_mm"], 2) if "truncated" in report else None,
                       "truncated_frames": report["truncated"]["frames"] if "truncated" in report else 0}
                if "uncertainty" in report:
                    row["uncertainty"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in report["uncertainty"].items()}
                rows.append(row)
                print({k: v for k, v in row.items() if k not in ("checkpoint",)})
    machine = f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"machine": machine, "subjects": SUBJECTS[args.part], "rows": rows}, indent=1))
    lines = ["| trained on | model | test rig | H | MPJPE | P-MPJPE | PCK@150 | AUC | accel | in-view MPJPE | truncated MPJPE (frames) | unc. ratio / rank corr. |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        truncated = f"{r['truncated_mpjpe_mm']:.1f} ({r['truncated_frames']})" if r["truncated_mpjpe_mm"] is not None else "- (0)"
        unc = f"{r['uncertainty']['ratio']:.2f} / {r['uncertainty']['rank_correlation']:.2f}" if "uncertainty" in r else "-"
        window = f", {r['window']} windows" if r.get("window", "stitched") != "stitched" else ""
        window += ", node's 2D filter" if r.get("filtered_2d") else ""
        lines.append(f"| {r['trained_on']} | {KINDS[r['model']]} | {r['test_rig']} | {r['hypotheses']}{' + mirror' if r.get('flip') else ''}{window} | {r['mpjpe_mm']:.1f} | "
                     f"{r['p_mpjpe_mm']:.1f} | {r['pck150']:.1f} | {r['auc']:.1f} | {r['accel_error_mm']:.1f} | "
                     f"{r['in_view_mpjpe_mm']:.1f} | {truncated} | {unc} |")
    (RESULTS / f"{stem}.md").write_text(
        f"# Lifter and controls on the {args.part} subjects {', '.join(SUBJECTS[args.part])}\n\n"
        f"Command: `.venv/bin/python benchmarks/lifter_accuracy.py --part {args.part}`; models from "
        f"`benchmarks/train_source_models.sh`. Machine: {machine}.\nmm, root-relative; accel = acceleration error "
        "mm/frame²; uncertainty (H=3) calibrated on the training rig's validation views: ratio = mean predicted / "
        "mean actual error, rank corr. = Spearman over every (frame, joint).\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
