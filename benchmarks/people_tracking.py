"""Several people per image on real video: the node's pipeline against identities from multi-view
triangulation (Pose2Sim demo: 4 synchronised, calibrated views of several people, 60 fps).

    .venv/bin/python benchmarks/people_tracking.py [--max-people 4]

Truth: the people of benchmarks/real_video.py (MediaPipe in every view, matched across views,
triangulated, linked over time), projected into each view; a truth person counts in a view in the
frames where that view's detections took part in their triangulation. Each view is run through
posynda_ros.pipeline.LiftPipeline frame by frame at its 60 fps stamps, as the node runs it, and
each estimate is matched to the truth person whose projected 2D is nearest (mean joint distance
below 25% of their 2D height; greedy, nearest first). Per view: recall (truth person-frames with an
estimate), estimates that match nobody, identity switches (a truth person's estimate id changes
from one frame where they are found to the next) and ids per truth person.
Writes benchmarks/results/people_tracking.{json,md} and people_tracking.png (one frame per view).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import cv2
import numpy as np

from adaptation.multiview import read_qca
from adaptation.runtime import open_backend
from posynda_ros.demo import draw_people
from posynda_ros.msg import Skeleton3D
from posynda_ros.pipeline import LiftPipeline
from posynda_ros.window import match_greedily
from real_video import DATA, FPS, RESULTS, pseudo_ground_truth

MATCH_DISTANCE = 0.25      # of the truth person's 2D height
PICTURE_FRAME = 60


def read_video(path: Path) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = capture.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def match(estimates, truth_px: dict[int, np.ndarray]) -> dict[int, int]:
    """truth person -> index of the estimate matched to them (greedy, nearest first, within MATCH_DISTANCE)."""
    people = list(truth_px)
    distances = np.array([[float(np.linalg.norm(e.keypoints_px - truth_px[p], axis=-1).mean()) / max(float(np.ptp(truth_px[p][:, 1])), 1.0)
                           for e in estimates] for p in people], dtype=float).reshape(len(people), len(estimates))
    return {people[row]: column for row, column in match_greedily(distances, MATCH_DISTANCE)}


def score_view(frames, camera, view: int, tracks, max_people: int) -> tuple[dict, list]:
    pipeline = LiftPipeline(open_backend(preference="onnxruntime-cpu", threads=2), hypotheses=1, max_people=max_people)
    found, expected, unmatched, switches = 0, 0, 0, 0
    ids_of: dict[int, list[int]] = {}
    per_frame = []
    try:
        for t, rgb in enumerate(frames):
            people = [e for e in pipeline.process(rgb, t / FPS, camera.intrinsics).estimates
                      if e.track_state != Skeleton3D.TRACK_LOST]
            per_frame.append(people)
            truth = {p: camera.pixels_of(by_frame[t].points_world) for p, by_frame in tracks.items()
                     if t in by_frame and view in by_frame[t].detections and np.isfinite(by_frame[t].points_world).all()}
            matched = match(people, truth)
            expected += len(truth)
            found += len(matched)
            unmatched += len(people) - len(matched)
            for person, index in matched.items():
                history = ids_of.setdefault(person, [])
                switches += bool(history) and history[-1] != people[index].track_id
                history.append(people[index].track_id)
    finally:
        pipeline.close()
    return {"view": camera.name, "truth_person_frames": expected, "recall": round(found / max(1, expected), 3),
            "unmatched_estimates": unmatched, "id_switches": switches, "truth_people": len(ids_of),
            "ids_per_truth_person": round(float(np.mean([len(set(v)) for v in ids_of.values()])), 2) if ids_of else None,
            "max_people_in_a_frame": max(len(p) for p in per_frame)}, per_frame


def draw(rgb: np.ndarray, people) -> np.ndarray:
    image = np.ascontiguousarray(rgb[..., ::-1])
    draw_people(image, people, line_px=6, font_scale=2.0, text_px=5, label_offset_px=(40, 40))
    return cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-people", type=int, default=4)
    args = parser.parse_args()
    tracks = pseudo_ground_truth()["tracks"]
    rows, panels = [], []
    for view, camera in enumerate(read_qca(DATA / "Calib.qca.txt")):
        frames = read_video(DATA / f"{camera.name}.mp4")
        row, per_frame = score_view(frames, camera, view, tracks, args.max_people)
        print(row)
        rows.append(row)
        panels.append(draw(frames[PICTURE_FRAME], per_frame[PICTURE_FRAME]))
    result = {"machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
              "max_people": args.max_people, "match_distance": MATCH_DISTANCE, "views": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "people_tracking.json").write_text(json.dumps(result, indent=1))
    cv2.imwrite(str(RESULTS / "people_tracking.png"), np.concatenate(panels, axis=1))
    lines = ["| view | truth person-frames | recall | estimates matching nobody | id switches | truth people | ids per truth person |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['view']} | {r['truth_person_frames']} | {r['recall']:.2f} | {r['unmatched_estimates']} | {r['id_switches']} | "
              f"{r['truth_people']} | {r['ids_per_truth_person']} |" for r in rows]
    (RESULTS / "people_tracking.md").write_text(
        "# Several people per image: the lift pipeline against triangulated identities (Pose2Sim demo)\n\n"
        f"Command: `.venv/bin/python benchmarks/people_tracking.py --max-people {args.max_people}`. Machine: {result['machine']}.\n"
        f"Frame {PICTURE_FRAME} of each view with the track ids: people_tracking.png.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
