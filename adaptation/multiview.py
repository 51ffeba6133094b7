"""Several calibrated cameras: calibration reading, triangulation and people matched across views.

This builds pseudo ground truth from real multi-view video (benchmarks/real_video.py): 2D in
every view, people associated across views by how well they triangulate, then triangulated.
World frame: whatever the calibration uses (metres); camera frames follow adaptation.camera.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adaptation.camera import Intrinsics, undistort

QUALISYS_SUBPIXELS = 64.0          # .qca stores focal length and principal point in 1/64 pixel


@dataclass
class CalibratedCamera:
    name: str
    intrinsics: Intrinsics
    rotation: np.ndarray           # (3, 3) world -> camera (optical frame)
    translation: np.ndarray        # (3,) metres: x_camera = rotation @ x_world + translation

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        return points_world @ self.rotation.T + self.translation

    def pixels_of(self, points_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> detected (distorted) pixels (..., 2)."""
        return self.intrinsics.pixels_of(self.to_camera(points_world))

    def normalized(self, pixels: np.ndarray) -> np.ndarray:
        """Detected pixels (..., 2) -> undistorted intrinsics-normalised coordinates."""
        ideal = undistort(pixels, self.intrinsics)
        return (ideal - self.intrinsics.as_array()[2:]) / self.intrinsics.as_array()[:2]


def read_qca(path: str | Path) -> list[CalibratedCamera]:
    """Cameras of a Qualisys .qca calibration (as Pose2Sim ships it).

    Each <camera>: <transform> holds the camera centre (x, y, z in mm, world) and a rotation whose
    rows are the camera axes of a camera looking along -z with y up (world -> that camera);
    the optical frame (y down, z forward) flips y and z. <intrinsic>: focal length and principal
    point in 1/64 px, distortion k1 k2 (k3) and tangential p1 p2. Checked by reprojection in
    benchmarks/real_video.py: people triangulated from MediaPipe's 2D in all four views reproject to
    24 px on average (about 2% of their height in these images); a view left out of the
    triangulation is missed by 23-47 px (median per view).
    """
    text = Path(path).read_text()
    cameras = []
    for block in re.findall(r"<camera .*?</camera>", text, re.S):
        def attributes(tag: str) -> dict[str, str]:
            element = re.search(rf"<{tag}\s[^>]*>", block)
            if element is None:
                raise ValueError(f"{path}: a <camera> has no <{tag}>")
            return dict(re.findall(r'(\w+)="([^"]*)"', element.group(0)))
        camera, transform, intrinsic = attributes("camera"), attributes("transform"), attributes("intrinsic")
        fov = attributes("fov_video")
        rows = np.array([[float(transform[f"r{i}{j}"]) for j in (1, 2, 3)] for i in (1, 2, 3)])
        rotation = np.diag([1.0, -1.0, -1.0]) @ rows
        centre = np.array([float(transform[k]) for k in "xyz"]) / 1000.0
        s = QUALISYS_SUBPIXELS
        intrinsics = Intrinsics(
            float(intrinsic["focalLengthU"]) / s, float(intrinsic["focalLengthV"]) / s,
            float(intrinsic["centerPointU"]) / s, float(intrinsic["centerPointV"]) / s,
            int(fov["right"]) - int(fov["left"]) + 1, int(fov["bottom"]) - int(fov["top"]) + 1,
            tuple(float(intrinsic[k]) for k in ("radialDistortion1", "radialDistortion2", "tangentalDistortion1",
                                                 "tangentalDistortion2", "radialDistortion3")))
        cameras.append(CalibratedCamera(camera.get("serial", f"cam{len(cameras) + 1}"), intrinsics, rotation,
                                        -rotation @ centre))
    if not cameras:
        raise ValueError(f"{path}: no <camera> elements; is this a Qualisys .qca calibration?")
    return cameras


def triangulate(cameras: list[CalibratedCamera], pixels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted linear (DLT) triangulation: pixels (V, J, 2) seen by V cameras, weights (V, J) ->
    (J, 3) world points. A joint needs weight in at least two views (else NaN)."""
    views, joints = pixels.shape[:2]
    rays = np.stack([c.normalized(p) for c, p in zip(cameras, pixels)])                  # (V, J, 2)
    projections = np.stack([np.hstack([c.rotation, c.translation[:, None]]) for c in cameras])   # (V, 3, 4)
    out = np.full((joints, 3), np.nan)
    for j in range(joints):
        used = weights[:, j] > 0
        if used.sum() < 2:
            continue
        rows = []
        for v in np.flatnonzero(used):
            p, (x, y) = projections[v], rays[v, j]
            rows += [weights[v, j] * (x * p[2] - p[0]), weights[v, j] * (y * p[2] - p[1])]
        _, _, vt = np.linalg.svd(np.array(rows))
        out[j] = vt[-1, :3] / vt[-1, 3]
    return out


def reprojection_error(camera: CalibratedCamera, points_world: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Per-joint pixel distance between projected world points (J, 3) and detected pixels (J, 2)."""
    return np.linalg.norm(camera.pixels_of(points_world) - pixels, axis=-1)


@dataclass
class MatchedPerson:
    detections: dict[int, int]     # view index -> detection index in that view
    points_world: np.ndarray       # (J, 3) triangulated
    reprojection_px: float         # mean over views and joints used


def match_people(cameras: list[CalibratedCamera], detections: list[list[tuple[np.ndarray, np.ndarray]]],
                 max_error_px: float, min_confidence: float = 0.5) -> list[MatchedPerson]:
    """People seen in several views of one instant. detections[v] = [(pixels (J, 2), confidence (J,)), ...].

    Greedy: the pair of detections in two views that triangulates with the lowest reprojection
    error starts a person; every other view adds its detection that reprojects within
    `max_error_px`; repeat on what is left. A detection belongs to at most one person.
    """
    def solve(members: dict[int, int]) -> tuple[np.ndarray, float]:
        views = sorted(members)
        pixels = np.stack([detections[v][members[v]][0] for v in views])
        weights = np.stack([(detections[v][members[v]][1] >= min_confidence).astype(float) for v in views])
        points = triangulate([cameras[v] for v in views], pixels, weights)
        errors = [reprojection_error(cameras[v], points, pixels[i])[weights[i] > 0] for i, v in enumerate(views)]
        errors = np.concatenate(errors)
        errors = errors[np.isfinite(errors)]
        return points, float(errors.mean()) if len(errors) else np.inf

    used: set[tuple[int, int]] = set()
    people = []
    while True:
        pairs = []
        for a, b in itertools.combinations(range(len(cameras)), 2):
            for i, j in itertools.product(range(len(detections[a])), range(len(detections[b]))):
                if (a, i) not in used and (b, j) not in used:
                    points, error = solve({a: i, b: j})
                    if error < max_error_px:
                        pairs.append((error, {a: i, b: j}))
        if not pairs:
            return people
        members = min(pairs, key=lambda pair: pair[0])[1]
        for v in range(len(cameras)):
            if v in members:
                continue
            trials = [(solve({**members, v: k})[1], k) for k in range(len(detections[v])) if (v, k) not in used]
            if trials and min(trials)[0] < max_error_px:
                members[v] = min(trials)[1]
        points, error = solve(members)
        used.update(members.items())
        people.append(MatchedPerson(members, points, error))
