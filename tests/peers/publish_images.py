"""Peer process: publish N 640x480 rgb8 images at a rate once a subscriber has matched.

Usage: publish_images.py COUNT RATE_HZ RELIABILITY
Each image's first pixel row encodes its index, so the receiver can check content.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from posynda_ros.transport import input_qos  # noqa: E402

count, rate_hz, reliability = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
rclpy.init()
node = rclpy.create_node("publish_images")
publisher = node.create_publisher(Image, "images", input_qos(reliability, depth=5))
deadline = time.monotonic() + 20
while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
time.sleep(0.5)
frame = np.random.default_rng(0).integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
for index in range(count):
    frame[0, :4, 0] = np.frombuffer(np.uint32(index).tobytes(), dtype=np.uint8)
    msg = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=frame.tobytes())
    msg.header.frame_id = "camera_optical_frame"
    msg.header.stamp = node.get_clock().now().to_msg()
    publisher.publish(msg)
    time.sleep(1.0 / rate_hz)
time.sleep(1.0)
print("published", count, flush=True)
rclpy.shutdown()
