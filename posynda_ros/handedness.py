"""Left/right consistency of detected 2D: repair a person's mirrored left/right labels.

MediaPipe sometimes labels a person seen from behind as if they faced the camera (their left
side on the image's right), and its labels can flip for a frame or two. Lifting such 2D gives a
body turned the wrong way (the issue measured 581 mm limb error). Two checks, in order:
1. Facing: if the face is not seen (nose and eyes low visibility) while both shoulders are,
   the person faces away, so their left shoulder and hip must lie on the image's left. If the
   labels put them on the right, they are swapped back.
2. Continuity (optional): if swapping the labels matches the previous frame of the same track
   much better than keeping them, the labels flipped and are swapped back.
Measured on real video (benchmarks/real_video.py, left/right audit against triangulated truth):
MediaPipe 0.10.21 mirrors about 4-5% of detections, keeps its face landmarks "visible" from
behind (check 1 never fired on 484 back views), and continuity fixed 7 mirrored detections while
breaking 15 correct ones (tracks that start mirrored). The node therefore runs check 1 only.
"""
from __future__ import annotations

import numpy as np

from adaptation.skeleton import JOINT_INDEX, LEFT, RIGHT, swap_left_right

FACE_VISIBLE = 0.5         # MediaPipe visibility above which a landmark counts as seen
CONTINUITY_RATIO = 0.5     # swap when the swapped labels are at least twice as close to the previous frame


def facing_away(face_visibility: float, shoulder_visibility: float) -> bool:
    """True when the shoulders are seen but the face is not: the person turns their back to the camera."""
    return shoulder_visibility >= FACE_VISIBLE and face_visibility < FACE_VISIBLE


def left_on_image_right(keypoints_px: np.ndarray) -> bool:
    """Whether the person's left shoulder and hip lie to the right of their right ones in the image
    (true for someone facing the camera)."""
    left = keypoints_px[[JOINT_INDEX["l_shoulder"], JOINT_INDEX["l_hip"]], 0].mean()
    right = keypoints_px[[JOINT_INDEX["r_shoulder"], JOINT_INDEX["r_hip"]], 0].mean()
    return bool(left > right)


def swap_fits_previous(previous_px: np.ndarray, keypoints_px: np.ndarray) -> bool:
    """Whether the swapped labels are much closer to the previous frame's than the current ones."""
    sided = list(LEFT + RIGHT)
    keep = np.linalg.norm(keypoints_px[sided] - previous_px[sided], axis=-1).mean()
    swap = np.linalg.norm(swap_left_right(keypoints_px)[sided] - previous_px[sided], axis=-1).mean()
    return bool(swap < CONTINUITY_RATIO * keep)


def repair(keypoints_px: np.ndarray, confidence: np.ndarray, back_turned: bool,
           previous_px: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Keypoints (17, 2) and confidence (17,) with left/right repaired, and which check fired
    ("facing", "continuity" or "")."""
    if back_turned and left_on_image_right(keypoints_px):
        return swap_left_right(keypoints_px), swap_left_right(confidence[:, None])[:, 0], "facing"
    if not back_turned and previous_px is not None and swap_fits_previous(previous_px, keypoints_px):
        return swap_left_right(keypoints_px), swap_left_right(confidence[:, None])[:, 0], "continuity"
    return keypoints_px, confidence, ""
