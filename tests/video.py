"""Real frames of the bundled demo clip (Sports2D, BSD-3) as ROS messages, at half resolution."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "media" / "sports2d_demo.mp4"
FRAME = "camera_optical_frame"
# sports2d_Calib_demo.toml: f = 2520.09 px, c = (884, 497) at 1768x994; halved with the image.
SCALE = 0.5
FOCAL, CENTRE, SIZE = 2520.0897 * SCALE, (884 * SCALE, 497 * SCALE), (884, 497)


def read_frames(count: int, start: int = 0, step: int = 1) -> list[np.ndarray]:
    """RGB frames start, start+step, ... of the clip, resized to SIZE."""
    capture = cv2.VideoCapture(str(CLIP))
    frames, index = [], 0
    while len(frames) < count:
        ok, bgr = capture.read()
        if not ok:
            break
        if index >= start and (index - start) % step == 0:
            frames.append(cv2.cvtColor(cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return frames


def stamp(seconds: float) -> Time:
    return Time(sec=int(seconds), nanosec=int(round((seconds % 1) * 1e9)))


def image_message(rgb: np.ndarray, seconds: float) -> Image:
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=rgb.shape[1] * 3, data=rgb.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp(seconds), FRAME
    return msg


def camera_info_message(seconds: float, zero: bool = False) -> CameraInfo:
    msg = CameraInfo(width=SIZE[0], height=SIZE[1], distortion_model="plumb_bob", d=[0.0] * 5)
    msg.k = [0.0] * 9 if zero else [FOCAL, 0.0, CENTRE[0], 0.0, FOCAL, CENTRE[1], 0.0, 0.0, 1.0]
    msg.header.stamp, msg.header.frame_id = stamp(seconds), FRAME
    return msg
