"""sensor_msgs/Image and CompressedImage -> RGB uint8 arrays, with errors that name the problem.

Works on rclpy messages and on rosbags' decoded messages alike (same field names).
"""
from __future__ import annotations

import cv2
import numpy as np

CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
TO_RGB = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB,
          "mono8": cv2.COLOR_GRAY2RGB}


class ImageError(ValueError):
    """An image message that cannot be decoded."""


def _bytes(data) -> np.ndarray:
    return data if isinstance(data, np.ndarray) else np.frombuffer(bytes(data), dtype=np.uint8)


def image_to_rgb(msg) -> np.ndarray:
    """Decode a raw sensor_msgs/Image into an (H, W, 3) RGB uint8 array."""
    encoding = msg.encoding.lower()
    if encoding not in CHANNELS:
        raise ImageError(f"unsupported image encoding {msg.encoding!r}; supported: {sorted(CHANNELS)}")
    if msg.height == 0 or msg.width == 0:
        raise ImageError(f"zero-size image {msg.width}x{msg.height}")
    channels = CHANNELS[encoding]
    row = msg.width * channels
    if msg.step < row:
        raise ImageError(f"step {msg.step} is smaller than width x channels = {row} for {encoding}")
    data = _bytes(msg.data)
    if data.size < msg.step * msg.height:
        raise ImageError(f"image data has {data.size} bytes, expected step x height = {msg.step * msg.height}")
    pixels = data[: msg.step * msg.height].reshape(msg.height, msg.step)[:, :row].reshape(msg.height, msg.width, channels)
    if encoding == "rgb8":
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), TO_RGB[encoding])


def compressed_to_rgb(msg) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (JPEG or PNG) into an (H, W, 3) RGB uint8 array."""
    data = _bytes(msg.data)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ImageError(f"compressed image ({msg.format or 'no format'}, {data.size} bytes) could not be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_rgb(msg) -> np.ndarray:
    """Either image type, by what the message carries."""
    return compressed_to_rgb(msg) if hasattr(msg, "format") else image_to_rgb(msg)
