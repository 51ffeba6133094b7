"""PoSynDA across camera shifts: does adaptation close the source -> target gap, and which part does it?

    .venv/bin/python benchmarks/adaptation_ablation.py --part val|test [--rigs low_robot ...] [--rows ...] [--seeds 0 1 2]

Source: the lifter trained on studio views of the training subjects (runs/pose_studio). Targets,
mounted rigs of adaptation/rigs: low_robot (0.35 m, looking 15 deg up), head_camera (1.9 m, wide
lens, 30 deg down, 4 deg roll) and mild (a tripod close to the studio). Target subjects: validation
(hdm_bd) while developing, test (cmu_03, hdm_dg) for the final table; their even mocap sequences
give 2D for adapting, the odd ones are scored (3D, H=1, K=1). Rows:
  source_only      the studio model as it is
  randomized       the randomised-camera model (the session-9 default: runs/smooth_long_diffusion), as it is: the competitor
  oracle           the same lifter trained with the target rig's 3D labels (training subjects)
  paper            PoSynDA as published: placement F, teacher pseudo-labels (H=3), LoRA r=4 + output bias,
                   student trained through the deployed sampler (K=1 from pure noise)
  paper_denoising  the same, student trained with the denoising objective (random diffusion step)
  mount_known      + the source viewed through the target's camera mount (the rig's, as /tf_static gives it)
  mount_estimated  + the mount estimated from the target 2D alone (adaptation.mount.estimate)
  mount_no_pseudo_labels, mount_full_finetune: mount_known without the teacher, or with every weight trained
  randomized_mount the randomised-camera model adapted with the mount known, the product's defaults (no
                   teacher pseudo-labels): what a user of the default gets; randomized_mount_pseudo_labels with them;
                   randomized_mount_source_noise with the source's detector noise carried to the re-projected 2D;
                   randomized_mount_no_mirror without mirroring half of each batch
A model trained on 2D through the node's filter (the default: train --smooth_2d) is adapted and scored on
filtered 2D - target and source - as the node and `adapt` feed it; the studio-model rows see raw 2D.
Every adapted run logs the 2D-only selection criteria and, for this benchmark only, the true
MPJPE on the scored views at each evaluation (never used to choose anything). Each finished run is
saved at once under benchmarks/results/adaptation_<part>/, so an interrupted benchmark keeps its rows.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from adaptation import checkpoint
from adaptation.adapt import AdaptConfig, adapt
from adaptation.clips import covering_windows, prepare
from adaptation.evaluate import evaluate
from adaptation.keypoint_filter import as_fed
from adaptation.metrics import rank_correlation
from adaptation.mount import CameraMount, estimate
from adaptation.plots import plt
from adaptation.train import validate
from adaptation.views import BUNDLED_MOCAP, Rig, load_mocap
from splits import SUBJECTS, target_split, views

RESULTS = Path(__file__).with_name("results")
TRAINED = Path(__file__).resolve().parents[1] / "runs"       # benchmarks/train_source_models.sh writes here
RIGS = ("low_robot", "head_camera", "mild")
ADAPTED = {                         # AdaptConfig changes; every other setting is the product's default
    "paper": dict(mount_augmentation=False, pseudo_labels=True),
    "paper_denoising": dict(mount_augmentation=False, deployed_fraction=0.0, pseudo_labels=True),
    "mount_known": dict(pseudo_labels=True),
    "mount_estimated": dict(pseudo_labels=True),
    "mount_no_pseudo_labels": dict(pseudo_labels=False),
    "mount_full_finetune": dict(lora_rank=0, pseudo_labels=True),
    "randomized_mount_pseudo_labels": dict(pseudo_labels=True),
    "randomized_mount": dict(),
    "randomized_mount_source_noise": dict(source_noise=True),
    "randomized_mount_no_mirror": dict(mirror=False),
}
ROWS = ("source_only", "randomized", "oracle", *ADAPTED)
LABELS = {
    "source_only": "source-only (studio model)",
    "randomized": "randomised-camera model (the session-9 default, filtered 2D; competitor)",
    "oracle": "oracle (target-rig 3D labels)",
    "paper": "PoSynDA as published (F, pseudo-labels H=3, LoRA + bias, sampler objective)",
    "paper_denoising": "  ... student with the denoising objective instead",
    "mount_known": "+ camera mount known (ours, default with /tf_static)",
    "mount_estimated": "+ camera mount estimated from 2D (ours, default without)",
    "mount_no_pseudo_labels": "  ... mount known, without teacher pseudo-labels",
    "mount_full_finetune": "  ... mount known, every weight fine-tuned instead of LoRA",
    "randomized_mount_pseudo_labels": "randomised-camera model + adaptation with the mount known, with pseudo-labels",
    "randomized_mount": "randomised-camera model + adaptation with the mount known (the product's defaults)",
    "randomized_mount_source_noise": "  ... its re-projected source 2D carrying the source's detector noise",
    "randomized_mount_no_mirror": "  ... without mirrored batches",
}


def base_model(row: str, rig: str) -> Path:
    name = "smooth_long_diffusion" if row.startswith("randomized") else f"pose_{rig}" if row == "oracle" else "pose_studio"
    return TRAINED / name / "best.pt"


def run(rig: str, row: str, seed: int, part: str, config: dict, out_dir: Path) -> dict | None:
    if not base_model(row, rig).is_file():
        print(f"{rig} {row}: skipped, {base_model(row, rig)} is not trained (benchmarks/train_source_models.sh)")
        return None
    model, meta = checkpoint.load(base_model(row, rig))
    adapt_views, score_views = (as_fed(v, meta) for v in target_split(rig, part))
    record = {"rig": rig, "row": row, "seed": seed, "base": str(base_model(row, rig).relative_to(TRAINED.parent))}
    started = time.time()
    mount = None                    # with one, the adapted model is lifted in its upright camera, as the node does
    if row in ADAPTED:
        spec = Rig.load(rig)
        if row.startswith(("mount_", "randomized_mount")) and row != "mount_estimated":
            mount = CameraMount(float(spec.height_m), float(spec.pitch_deg), float(spec.roll_deg), "rig")
        elif row == "mount_estimated":
            mount = estimate([s.keypoints_2d for s in prepare(adapt_views)])
        settings = AdaptConfig(**{**config, **ADAPTED[row], "seed": seed, "device": "cpu"})
        monitored = score_views.turned(mount.lifting_rotation(model.config.lifting_camera)) if mount else score_views  # adapt's frame
        monitor_batch = covering_windows(prepare(monitored), model.config.frames)
        mocap = load_mocap(BUNDLED_MOCAP)
        source_mocap = [seq for subject in SUBJECTS["train"] for seq in mocap[subject].values()]
        model, history = adapt(model, as_fed(views("studio_train")), adapt_views, settings, mount=mount,
                               source_mocap=source_mocap, monitor=lambda m: {"mpjpe_mm": validate(m, monitor_batch)})
        record.update(adapt_config=dataclasses.asdict(settings), history=history,
                      mount=mount.to_dict() if mount else None)
    record["adapt_wall_s"] = round(time.time() - started, 1)
    scores = evaluate(model, score_views, hypotheses=1, k=1, mount=mount)["overall"]
    record["scores"] = {k: round(v, 2) for k, v in scores.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{rig}_{row}_seed{seed}.json").write_text(json.dumps(record, indent=1))
    print(f"{rig} {row} seed {seed}: MPJPE {record['scores']['mpjpe_mm']:.1f} P-MPJPE {record['scores']['p_mpjpe_mm']:.1f} "
          f"({record['adapt_wall_s']:.0f} s)", flush=True)
    return record


def summarize(out_dir: Path, part: str, machine: str, config: dict) -> None:
    records = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json")) if p.stem.count("_seed")]
    by = {}
    for r in records:
        by.setdefault((r["rig"], r["row"]), []).append(r)
    lines = [f"# PoSynDA across camera shifts ({part} subjects)", "",
             f"Command: `.venv/bin/python benchmarks/adaptation_ablation.py --part {part}` "
             f"(adaptation: {config}). Machine: {machine}; two such processes side by side, so wall times "
             "include that sharing. Scored: odd mocap sequences through the target rig, H=1, K=1; adapted on the "
             "even ones' 2D only. Mean ± spread (std) over seeds; the unadapted rows are deterministic.", ""]
    summary = {}
    for rig in RIGS:
        if not any(k[0] == rig for k in by):
            continue
        mount = Rig.load(rig)
        lines += [f"## {rig} (height {mount.height_m} m, pitch {mount.pitch_deg} deg, roll {mount.roll_deg} deg)", "",
                  "| setting | MPJPE mm | P-MPJPE mm | gap closed | seeds | adapt s | mount used |", "|---|---|---|---|---|---|---|"]
        mean = {row: np.mean([r["scores"]["mpjpe_mm"] for r in by[(rig, row)]]) for row in ROWS if (rig, row) in by}
        for row in ROWS:
            if (rig, row) not in by:
                continue
            runs = by[(rig, row)]
            m = np.array([r["scores"]["mpjpe_mm"] for r in runs])
            p = np.array([r["scores"]["p_mpjpe_mm"] for r in runs])
            gap = ""
            if {"source_only", "oracle"} <= set(mean) and row != "source_only":
                gap = f"{100 * (mean['source_only'] - m.mean()) / (mean['source_only'] - mean['oracle']):.0f}%"
            used = runs[0].get("mount")
            used = f"{used['height_m']:.2f} m, {used['pitch_deg']:.1f}, {used['roll_deg']:.1f} deg" if used else ""
            lines.append(f"| {LABELS[row]} | {m.mean():.1f} ± {m.std():.1f} | {p.mean():.1f} ± {p.std():.1f} | {gap} | "
                         f"{len(runs)} | {np.mean([r['adapt_wall_s'] for r in runs]):.0f} | {used} |")
            summary[f"{rig}/{row}"] = {"mpjpe_mm": m.tolist(), "p_mpjpe_mm": p.tolist()}
        lines.append("")
    lines += criterion_section(records, out_dir.parent / f"adaptation_criteria_{part}.png")
    (RESULTS / f"adaptation_{part}.md").write_text("\n".join(lines))
    (RESULTS / f"adaptation_{part}.json").write_text(json.dumps({"machine": machine, "config": config,
                                                                 "summary": summary}, indent=1))


def criterion_section(records: list[dict], picture: Path) -> list[str]:
    """How well each 2D-only criterion tracks the true error, over every evaluation of every run."""
    adapted = [r for r in records if r.get("history", {}).get("monitor_mpjpe_mm")]
    if not adapted:
        return []
    evaluations = sum(len(r["history"]["monitor_mpjpe_mm"]) for r in adapted)
    lines = ["## Choosing the step without target 3D", "",
             f"Over {evaluations} evaluations (every {adapted[0]['adapt_config']['eval_every']} steps of "
             f"{len(adapted)} runs), rank correlation of each criterion with the true MPJPE: across runs and steps, "
             "and within runs (mean over runs). 'Selected' is the true MPJPE at the step the criterion picks, "
             "against the last step and the best step (which needs 3D, so only a bound).", "",
             "| criterion | Spearman, all | Spearman, within runs | selected mm | last step mm | best step mm |",
             "|---|---|---|---|---|---|"]
    names = ("reprojection", "spread", "bones", "tilt")
    units = {"reprojection": "x1000, normalised image units", "spread": "mm", "bones": "mm", "tilt": "degrees"}
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4))
    for axis, name in zip(axes, names):
        runs = [r for r in adapted if r["history"].get(f"criterion_{name}")]
        if not runs:
            continue
        values = np.concatenate([r["history"][f"criterion_{name}"] for r in runs])
        truth = np.concatenate([r["history"]["monitor_mpjpe_mm"] for r in runs])
        within = [rank_correlation(np.array(r["history"][f"criterion_{name}"]), np.array(r["history"]["monitor_mpjpe_mm"]))
                  for r in runs]
        picked = [r["history"]["monitor_mpjpe_mm"][int(np.argmin(r["history"][f"criterion_{name}"]))] for r in runs]
        last = [r["history"]["monitor_mpjpe_mm"][-1] for r in runs]
        best = [min(r["history"]["monitor_mpjpe_mm"]) for r in runs]
        lines.append(f"| {name} ({len(runs)} runs) | {rank_correlation(values, truth):.2f} | {np.nanmean(within):.2f} | "
                     f"{np.mean(picked):.1f} | {np.mean(last):.1f} | {np.mean(best):.1f} |")
        for r in runs:
            axis.plot(r["history"][f"criterion_{name}"], r["history"]["monitor_mpjpe_mm"], ".-", alpha=0.5)
        axis.set_xlabel(f"criterion: {name} ({units[name]})")
        axis.set_ylabel("true MPJPE on the scored views (mm)")
        axis.grid(alpha=0.3)
    figure.suptitle("2D-only criteria against the true error, every evaluation of every adapted run")
    figure.tight_layout()
    figure.savefig(picture, dpi=90)
    plt.close(figure)
    return lines + ["", f"Picture: {picture.name}.", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), required=True)
    parser.add_argument("--rigs", nargs="*", choices=RIGS, default=list(RIGS))
    parser.add_argument("--rows", nargs="*", choices=ROWS, default=list(ROWS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=AdaptConfig.steps)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summary-only", action="store_true", help="only rewrite the tables from saved runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = f"{platform.processor() or platform.machine()}, {args.threads} CPU thread(s), torch {torch.__version__}"
    out_dir = RESULTS / f"adaptation_{args.part}"
    config = {"steps": args.steps}
    if not args.summary_only:
        for rig in args.rigs:
            for row in args.rows:
                for seed in (args.seeds if row in ADAPTED else [0]):
                    if not (out_dir / f"{rig}_{row}_seed{seed}.json").is_file():
                        run(rig, row, seed, args.part, config, out_dir)
    summarize(out_dir, args.part, machine, config)


if __name__ == "__main__":
    main()
