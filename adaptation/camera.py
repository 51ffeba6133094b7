"""Pinhole camera with Brown-Conrady distortion: the one camera and 2D-normalisation convention.

Frames and units: camera optical frame (x right, y down, z forward), metres; pixels for images.
2D normalisation: intrinsics-normalised coordinates (camera rays), x_n = (x_undistorted - c) / f.
They do not depend on the image's size, aspect (portrait or landscape) or focal length: a pose
seen by any calibrated camera has the same normalised 2D. In these units the intrinsics are
f_n = 1, c_n = 0, so projecting a camera-frame point is X / Z. (The method note's per-image
x_n = 2 x / w - [1, h / w] made a 1080x1920 portrait person look twice as large as a landscape
one; benchmarks/normalisation.py measures both.) The lifter only ever sees normalised
coordinates; everything else converts here.
Lifting camera: with a known camera mount the lifter works in the same camera turned about its
optical centre. The *upright* camera is turned about its optical axis by the mount's roll, so the
world's up points up the image (training cameras never roll); the *level* camera is also turned by
the pitch, so its optical axis is horizontal (a lifter trained on levelled views need not guess the
pitch). For a pinhole camera either turn is exact: normalised 2D go through a homography (for the
roll alone, a rotation), 3D turn back by the inverse rotation. A model's config names the camera
it reads (LifterConfig.lifting_camera).
Functions accept numpy arrays or torch tensors unless their type hints say otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

try:  # torch is optional for the numpy paths (the ROS node runs without it)
    import torch
except ImportError:  # pragma: no cover
    torch = None


@dataclass(frozen=True)
class Intrinsics:
    """Camera intrinsics in pixels plus the image size, as in sensor_msgs/CameraInfo."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = field(default=(0.0, 0.0, 0.0, 0.0, 0.0))  # k1 k2 p1 p2 k3

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(np.isfinite(values)) or self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"invalid intrinsics: focal lengths must be finite and > 0, got fx={self.fx} fy={self.fy}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"invalid image size {self.width}x{self.height}")
        if len(self.distortion) not in (0, 4, 5, 8) or not all(np.isfinite(self.distortion)):
            raise ValueError(f"unsupported distortion coefficients {self.distortion} (plumb_bob: 5 values)")

    @classmethod
    def from_camera_info(cls, k: list[float], d: list[float], width: int, height: int) -> "Intrinsics":
        """From CameraInfo's row-major K (9 values), D and size; rejects all-zero K."""
        if len(k) != 9 or not any(k):
            raise ValueError("camera_info K is missing or all zero: the camera is not calibrated")
        dist = tuple(float(x) for x in list(d)[:5])
        dist += (0.0,) * (5 - len(dist))
        return cls(fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]),
                   width=int(width), height=int(height), distortion=dist)

    @property
    def has_distortion(self) -> bool:
        return any(abs(c) > 0 for c in self.distortion)

    def as_array(self) -> np.ndarray:
        """[fx, fy, cx, cy] in pixels."""
        return np.array([self.fx, self.fy, self.cx, self.cy], dtype=np.float64)

    def normalized(self) -> np.ndarray:
        """[f_n x, f_n y, c_n x, c_n y] in the lifter's normalised coordinates: always [1, 1, 0, 0]."""
        return NORMALIZED_CAMERA.copy()

    def pixels_of(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) -> detected (distorted) pixels (..., 2)."""
        return distort(project(points, self.as_array()[:2], self.as_array()[2:]), self)

    def in_view(self, pixels: np.ndarray) -> np.ndarray:
        """(..., J, 2) pixels -> (...,) True where every joint lies inside the image."""
        inside = (pixels[..., 0] >= 0) & (pixels[..., 0] < self.width) & (pixels[..., 1] >= 0) & (pixels[..., 1] < self.height)
        return inside.all(-1)


NORMALIZED_CAMERA = np.array([1.0, 1.0, 0.0, 0.0])


def normalize_pixels(xy, intrinsics: Intrinsics):
    """Undistorted pixels (..., 2) -> normalised coordinates (x - c) / f."""
    return (xy - intrinsics.as_array()[2:]) / intrinsics.as_array()[:2]


def pixels_from_normalized(xy_n, intrinsics: Intrinsics):
    """Inverse of normalize_pixels (undistorted pixels)."""
    return xy_n * intrinsics.as_array()[:2] + intrinsics.as_array()[2:]


def lifter_keypoints(pixels: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Detected pixels (..., 2) -> what the lifter reads: undistorted, then normalised."""
    return normalize_pixels(undistort(pixels.astype(np.float64), intrinsics), intrinsics)


LIFTING_CAMERAS = ("upright", "level")
MAX_LEVEL_PITCH_DEG = 60.0    # beyond this, rays at the image edge point behind the level camera


def look_rotation(forward: np.ndarray, up: np.ndarray | tuple = (0.0, 1.0, 0.0)) -> np.ndarray:
    """Rotation (rows: x right, y down, z forward) to a camera looking along `forward` without roll,
    from a frame whose up is `up` (world y up by default; a camera's own up for its level twin)."""
    forward = np.asarray(forward, dtype=np.float64) / np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def pitch_and_roll_deg(up: np.ndarray) -> tuple[float, float]:
    """A camera's pitch (> 0 looks down) and roll from the world's up direction in its coordinates."""
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    return math.degrees(math.asin(float(np.clip(-up[2], -1, 1)))), math.degrees(math.atan2(-up[0], -up[1]))


def upright_rotation(roll_deg: float) -> np.ndarray:
    """(3, 3) camera frame -> the upright camera of a mount with this roll (a turn about z)."""
    c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def lifting_rotation(up: np.ndarray, lifting_camera: str) -> np.ndarray:
    """(3, 3) a camera's frame -> the camera a lifter reads (see the module docstring), given the
    world's up in the camera's coordinates."""
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    pitch, roll = pitch_and_roll_deg(up)
    if lifting_camera == "upright":
        return upright_rotation(roll)
    if lifting_camera == "level":
        if abs(pitch) > MAX_LEVEL_PITCH_DEG:
            raise ValueError(f"the level camera needs a pitch within +-{MAX_LEVEL_PITCH_DEG:.0f} degrees, "
                             f"this camera's is {pitch:.1f}")
        return look_rotation(np.array([0.0, 0.0, 1.0]) - up[2] * up, up)
    raise ValueError(f"lifting_camera must be one of {LIFTING_CAMERAS}, got {lifting_camera!r}")


def turn_keypoints(keypoints_n: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Normalised 2D (..., 2) of a camera -> as the same camera turned by `rotation` sees them."""
    rays = np.concatenate([keypoints_n, np.ones_like(keypoints_n[..., :1])], -1) @ np.asarray(rotation, np.float64).T
    return (rays[..., :2] / rays[..., 2:]).astype(keypoints_n.dtype)


def turn_back(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Points (..., 3) in the turned camera's frame -> the camera's own frame."""
    return (points @ np.asarray(rotation, np.float64)).astype(points.dtype)


def project(points, f, c):
    """Pinhole projection of camera-frame points (..., 3) with focal f (..., 2) and centre c (..., 2).

    Works in pixels (f, c in pixels) or normalised coordinates (f_n, c_n): both are linear.
    f and c broadcast against points[..., :2] (pass shape (..., 1, 2) for per-pose intrinsics).
    """
    depth = points[..., 2:3]
    return points[..., :2] / depth * f + c


def distort(xy_undistorted: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Apply plumb-bob distortion to ideal pixel coordinates (..., 2)."""
    if not intrinsics.has_distortion:
        return xy_undistorted
    k1, k2, p1, p2, k3 = (list(intrinsics.distortion) + [0.0] * 5)[:5]
    x = (xy_undistorted[..., 0] - intrinsics.cx) / intrinsics.fx
    y = (xy_undistorted[..., 1] - intrinsics.cy) / intrinsics.fy
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd * intrinsics.fx + intrinsics.cx, yd * intrinsics.fy + intrinsics.cy], axis=-1)


def undistort(xy_distorted: np.ndarray, intrinsics: Intrinsics, iterations: int = 10) -> np.ndarray:
    """Remove plumb-bob distortion from detected pixel coordinates (fixed-point iteration)."""
    if not intrinsics.has_distortion:
        return xy_distorted
    k1, k2, p1, p2, k3 = (list(intrinsics.distortion) + [0.0] * 5)[:5]
    xd = (xy_distorted[..., 0] - intrinsics.cx) / intrinsics.fx
    yd = (xy_distorted[..., 1] - intrinsics.cy) / intrinsics.fy
    x, y = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        x = (xd - 2 * p1 * x * y - p2 * (r2 + 2 * x * x)) / radial
        y = (yd - p1 * (r2 + 2 * y * y) - 2 * p2 * x * y) / radial
    return np.stack([x * intrinsics.fx + intrinsics.cx, y * intrinsics.fy + intrinsics.cy], axis=-1)


def solve_root(pose_relative, keypoints, f, c, weights=None):
    """Camera-frame root translation that best reprojects a root-relative pose onto 2D keypoints.

    pose_relative (..., J, 3) metres; keypoints (..., J, 2) in the same units as f and c
    (pixels or normalised), f and c (..., 2). Linear least squares on
    f (X + Tx) = (u - c)(Z + Tz) and likewise for y; weights (..., J) down-weight unsure joints.
    This is how labels are never needed to place or project a pose.
    """
    u = keypoints - c[..., None, :]                         # (..., J, 2)
    fx, fy = f[..., 0:1], f[..., 1:2]                        # (..., 1)
    x, y, z = pose_relative[..., 0], pose_relative[..., 1], pose_relative[..., 2]
    w = 1.0 if weights is None else weights
    zeros = x * 0
    # Rows for x: [fx, 0, -ux] T = ux z - fx x ; rows for y: [0, fy, -uy] T = uy z - fy y
    a_x = [fx + zeros, zeros, -u[..., 0]]
    a_y = [zeros, fy + zeros, -u[..., 1]]
    b_x = u[..., 0] * z - fx * x
    b_y = u[..., 1] * z - fy * y

    def normal(i: int, j: int):
        return (w * (a_x[i] * a_x[j] + a_y[i] * a_y[j])).sum(-1)

    lhs = [[normal(i, j) for j in range(3)] for i in range(3)]
    rhs = [(w * (a_x[i] * b_x + a_y[i] * b_y)).sum(-1) for i in range(3)]
    if torch is not None and isinstance(pose_relative, torch.Tensor):
        matrix = torch.stack([torch.stack(row, -1) for row in lhs], -2)
        return torch.linalg.solve(matrix, torch.stack(rhs, -1).unsqueeze(-1)).squeeze(-1)
    matrix = np.stack([np.stack(row, -1) for row in lhs], -2)
    return np.linalg.solve(matrix, np.stack(rhs, -1)[..., None])[..., 0]
