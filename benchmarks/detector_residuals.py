"""How MediaPipe's 2D differs from the true projection of the person, per joint and by trunk lean.

    .venv/bin/python benchmarks/detector_residuals.py

The lifters train on renders: the exact projection of mocap joints plus isotropic detector-like
noise of 1% of the person's height (adaptation.views.add_detector_noise). At run time they read
MediaPipe's 2D. On the Pose2Sim benchmark (benchmarks/real_video.py) every person seen by at least
three views is triangulated from the *other* views and projected into the view left out: that is
where the view's joints are, as far as the other views can tell, independent of this view's own 2D.
The residual is measured as the lifters see 2D (adaptation.model.encode_keypoints): each pose
centred on its pelvis and divided by its RMS 2D size, MediaPipe's minus the projection's; so where
the person stands and how large they look do not count, only their shape. The renders' residual
(their noisy 2D against the exact projection) is measured the same way, for the renders the lifters
train on (1% of the person's height per axis, 1% outliers) and for the noisier variant that
level_camera.py prepare --noise 0.025 --outlier-rate 0.05 makes;
- split by the person's trunk (pelvis -> thorax) in the left-out triangulation: upright (within
  15 degrees of vertical) or bent over (more than real_video.BENT_OVER_DEG, the lunges cam03 sees),
  with how far it leans towards the camera in the camera's frame (pitch included: that is what
  foreshortens it in the image);
- as a per-joint mean (the systematic part, image x right, y down) and RMS (the whole of it), and
  as the 2D trunk length MediaPipe reports over the projected one (foreshortening).
The other views' own 2D errors enter the reference too: they bound what these figures can show.
Writes benchmarks/results/detector_residuals.{json,md,png} (the picture: the bent-over person in cam03
whose residual is that group's median, both 2D drawn on the image).
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import cv2
import numpy as np

from adaptation.multiview import read_qca
from adaptation.plots import plt
from adaptation.skeleton import BONES, JOINT_INDEX, JOINT_NAMES, ROOT, trunk_inclination_deg
from adaptation.views import NOISE, OUTLIER_RATE
import real_video
from splits import NOISIER_NOISE, NOISIER_OUTLIER_RATE, views

RESULTS = Path(__file__).with_name("results")
UPRIGHT_DEG = 15.0       # trunk inclination from vertical that counts as upright
WORLD_UP = np.array([0.0, 0.0, 1.0])   # the calibration's world z


def shape(pixels: np.ndarray) -> np.ndarray:
    """(..., J, 2) -> centred on the pelvis, divided by the RMS distance of the joints from it."""
    centred = pixels - pixels[..., ROOT:ROOT + 1, :]
    return centred / np.sqrt(np.mean(np.sum(centred ** 2, -1), -1))[..., None, None]


def render_residual_rms(noise: float, outlier_rate: float) -> float:
    """RMS shape residual per joint of the validation renders (randomised rig) with that noise."""
    residual = [shape(s.keypoints_2d.astype(np.float64)) - shape(s.intrinsics.pixels_of(s.keypoints_3d.astype(np.float64)))
                for s in views("randomized_val", noise, outlier_rate).sequences]
    return float(np.sqrt(np.mean(np.sum(np.concatenate(residual) ** 2, -1))))


def residuals() -> list[dict]:
    """One record per (person, frame, view) seen by >= 3 views."""
    cameras = read_qca(real_video.DATA / "Calib.qca.txt")
    detections = real_video.detect_all([c.name for c in cameras])
    records = []
    for t, v, k, points in real_video.left_out_triangulations(cameras, detections, real_video.match_frames(cameras, detections)):
        if not np.isfinite(points).all():
            continue
        projected = cameras[v].pixels_of(points)
        pixels, confidence = detections[v][t][k][0], detections[v][t][k][1]
        trunk = [np.linalg.norm(p[JOINT_INDEX["thorax"]] - p[ROOT]) for p in (pixels, projected)]
        records.append({"view": cameras[v].name, "frame": t,
                        "inclination_deg": float(trunk_inclination_deg(points, WORLD_UP)),
                        "lean_deg": float(real_video.torso_lean_deg(cameras[v].to_camera(points))),
                        "residual": shape(pixels) - shape(projected), "confident": confidence >= real_video.MIN_CONFIDENCE,
                        "trunk_ratio": trunk[0] / trunk[1], "pixels": pixels, "projected": projected})
    return records


def summary(records: list[dict]) -> dict:
    residual = np.stack([r["residual"] for r in records])                       # (N, J, 2)
    confident = np.stack([r["confident"] for r in records])
    masked = np.where(confident[..., None], residual, np.nan)
    return {"people_frames": len(records), "lean_deg": float(np.median([r["lean_deg"] for r in records])),
            "mean": np.nanmean(masked, 0).tolist(),                               # (J, 2) systematic part
            "rms": np.sqrt(np.nanmean(np.sum(masked ** 2, -1), 0)).tolist(),     # (J,)
            "rms_all": float(np.sqrt(np.nanmean(np.sum(masked ** 2, -1)))),
            "trunk_ratio": float(np.median([r["trunk_ratio"] for r in records]))}


def plot_example(record: dict, path: Path) -> None:
    """One person on their view's image: MediaPipe's 2D and the other views' triangulation projected."""
    capture = cv2.VideoCapture(str(real_video.DATA / f"{record['view']}.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, record["frame"])
    rgb = cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB)
    both = np.concatenate([record["pixels"], record["projected"]])
    (left, top), (right, bottom) = both.min(0) - 80, both.max(0) + 80
    figure, axis = plt.subplots(figsize=(5, 7))
    axis.imshow(rgb)
    for pixels, color, label in ((record["pixels"], "yellow", "MediaPipe 2D in this view"),
                                 (record["projected"], "cyan", "triangulated from the other views, projected")):
        for a, b in BONES:
            axis.plot(*zip(pixels[a], pixels[b]), color=color, lw=2)
        axis.plot([], [], color=color, label=label)
    axis.set_xlim(max(left, 0), min(right, rgb.shape[1]))
    axis.set_ylim(min(bottom, rgb.shape[0]), max(top, 0))
    axis.legend(fontsize=8, loc="lower left")
    axis.set_title(f"{record['view']}, frame {record['frame']}: trunk {record['inclination_deg']:.0f} deg from vertical,\n"
                   f"{record['lean_deg']:.0f} deg towards the camera; 2D trunk {record['trunk_ratio']:.2f}x the projection's", fontsize=9)
    axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main() -> None:
    records = residuals()
    groups = {"upright": lambda r: r["inclination_deg"] <= UPRIGHT_DEG,
              "bent over": lambda r: r["inclination_deg"] > real_video.BENT_OVER_DEG}
    view_names = sorted({r["view"] for r in records})
    table = {view: {name: summary(picked) for name, keep in groups.items()
                    if (picked := [r for r in records if r["view"] == view and keep(r)])} for view in view_names}
    table["all"] = {name: summary([r for r in records if keep(r)]) for name, keep in groups.items()}
    render = {"renders": render_residual_rms(NOISE, OUTLIER_RATE), "noisier renders": render_residual_rms(NOISIER_NOISE, NOISIER_OUTLIER_RATE)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "detector_residuals.json").write_text(json.dumps({"upright_deg": UPRIGHT_DEG, "bent_over_deg": real_video.BENT_OVER_DEG, "render_rms": render, "views": table}, indent=1))

    lines = ["# MediaPipe's 2D against the projection of the person triangulated from the other views", "",
             f"Command: `.venv/bin/python benchmarks/detector_residuals.py`. Machine: {platform.machine()}, numpy only. "
             f"Pose2Sim benchmark (benchmarks/real_video.py), people seen by >= 3 views, each view against the other views' "
             f"triangulation; joints with confidence >= {real_video.MIN_CONFIDENCE}. The 2D as the lifters read it: centred on the pelvis, "
             f"divided by its RMS size (1.00). RMS residual per joint of the renders the lifters train on: "
             f"{render['renders']:.3f}; of the noisier renders (level_camera.py prepare --noise 0.025 --outlier-rate 0.05): "
             f"{render['noisier renders']:.3f}.", "",
             "| view | trunk | people-frames | median lean towards the camera deg | RMS residual per joint | 2D trunk length, MediaPipe / projected |",
             "|---|---|---|---|---|---|"]
    for view, by_group in table.items():
        for name, s in by_group.items():
            lines.append(f"| {view} | {name} | {s['people_frames']} | {s['lean_deg']:.0f} | {s['rms_all']:.3f} | {s['trunk_ratio']:.2f} |")
    lines += ["", "Per joint, all views: mean residual x, y (systematic; image x right, y down) and RMS, upright | bent over:", "",
              "| joint | upright mean x, y | upright RMS | bent over mean x, y | bent over RMS |", "|---|---|---|---|---|"]
    up, lean = table["all"]["upright"], table["all"]["bent over"]
    for j, name in enumerate(JOINT_NAMES):
        lines.append(f"| {name} | {up['mean'][j][0]:+.3f}, {up['mean'][j][1]:+.3f} | {up['rms'][j]:.3f} | "
                     f"{lean['mean'][j][0]:+.3f}, {lean['mean'][j][1]:+.3f} | {lean['rms'][j]:.3f} |")
    (RESULTS / "detector_residuals.md").write_text("\n".join(lines) + "\n")
    bent = [r for r in records if r["view"] == "cam03" and groups["bent over"](r)]
    typical = np.median([np.sqrt(np.mean(np.sum(r["residual"] ** 2, -1))) for r in bent])
    plot_example(min(bent, key=lambda r: abs(np.sqrt(np.mean(np.sum(r["residual"] ** 2, -1))) - typical)), RESULTS / "detector_residuals.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
