"""A person's metric size from where their feet meet the floor, for a camera whose mount is known.

One view cannot tell a small near person from a large far one. The lifter answers with the size of
the people it was trained on (the bundled mocap: head 1.45 m above the ankles), and the root placed
from the 2D (camera.solve_root) then sits at the depth that size implies: too far for smaller people,
too near for taller ones. A known camera mount (adaptation.mount: height above the floor, pitch,
roll) settles it. People stand on the floor, so the lower ankle of s * (pose + root) is
ANKLES_ABOVE_FLOOR_M above it; scaling pose and root together keeps the 2D fit, so this one number
s is the only change. Per frame it is noisy (a raised foot, a missed ankle), and a person's size does
not change, so a track keeps the running median of its frames' factors (PersonScale).
It assumes the person and the robot share one flat floor: stairs, chairs under the feet or a jump
break it. Where the ray to the feet grazes the floor (a very low camera, far people) a small error in
the 2D or the lifted ankle moves the meeting point far (the relative depth error grows as 1/angle):
frames whose lower ankle is seen less than MIN_ANKLE_RAY_DEG below the horizon are not used.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from adaptation.mount import ANKLES, ANKLES_ABOVE_FLOOR_M, CameraMount

# People 0.6-1.5x the mocap's size (head 0.9-2.2 m above the ankles); other factors are a lifted
# foot, a person on a step or a bad lift, and are not used.
PLAUSIBLE_SCALE = (0.6, 1.5)
MIN_ANKLE_CONFIDENCE = 0.5      # MediaPipe visibility of both ankles
HISTORY_FRAMES = 300            # frames in a track's median (5-10 s)
MIN_ANKLE_RAY_DEG = 8.0         # the lower ankle's ray below the horizon (chosen on validation: benchmarks/floor_sizing.py)


def lower_ankle(pose_relative: np.ndarray, root: np.ndarray, mount: CameraMount) -> tuple[np.ndarray, np.ndarray]:
    """(..., J, 3) root-relative poses and (..., 3) roots in the camera frame (metres) -> the lower ankle's
    height relative to the camera (m, < 0 below it) and the angle of its ray below the horizon (degrees)."""
    ankles = np.asarray(pose_relative)[..., list(ANKLES), :] + np.asarray(root)[..., None, :]
    heights = ankles @ mount.up_in_camera()
    lower = np.take_along_axis(ankles, heights.argmin(-1)[..., None, None], -2)[..., 0, :]
    height = heights.min(-1)
    return height, np.degrees(np.arcsin(np.clip(-height / np.linalg.norm(lower, axis=-1), -1.0, 1.0)))


def floor_scale(pose_relative: np.ndarray, root: np.ndarray, mount: CameraMount) -> np.ndarray:
    """(..., J, 3) root-relative poses and (..., 3) roots in the camera frame (metres) -> (...,) the
    factor s that puts the lower ankle of s * (pose + root) ANKLES_ABOVE_FLOOR_M above the floor;
    nan where no ankle is below the camera."""
    return _scale_from_lower_ankle(lower_ankle(pose_relative, root, mount)[0], mount)


def _scale_from_lower_ankle(below_camera: np.ndarray, mount: CameraMount) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(below_camera < 0, (ANKLES_ABOVE_FLOOR_M - mount.height_m) / below_camera, np.nan)


class PersonScale:
    """One track's floor scale: the median of the factors of its frames whose ankles were seen and
    whose factor is plausible; 1 (the lifter's own size) until the first such frame."""

    def __init__(self, mount: CameraMount, history: int = HISTORY_FRAMES, min_ankle_ray_deg: float = MIN_ANKLE_RAY_DEG):
        self.mount = mount
        self.min_ankle_ray_deg = min_ankle_ray_deg
        self.factors: deque[float] = deque(maxlen=history)

    def update(self, pose_relative: np.ndarray, root: np.ndarray, confidence: np.ndarray) -> float:
        """Take one frame ((J, 3) pose, (3,) root, (J,) confidence); the track's scale now."""
        below_camera, ray_deg = lower_ankle(pose_relative, root, self.mount)
        factor = float(_scale_from_lower_ankle(below_camera, self.mount))
        seen = float(np.min(np.asarray(confidence)[list(ANKLES)])) >= MIN_ANKLE_CONFIDENCE
        if seen and ray_deg >= self.min_ankle_ray_deg and PLAUSIBLE_SCALE[0] < factor < PLAUSIBLE_SCALE[1]:
            self.factors.append(factor)
        return float(np.median(self.factors)) if self.factors else 1.0

    def along(self, poses: np.ndarray, roots: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """A whole track ((T, J, 3), (T, 3), (T, J)) frame by frame, as the node sees it: (T,) the scale
        applied at each frame."""
        return np.array([self.update(p, r, c) for p, r, c in zip(poses, roots, confidence)])
