"""Peer process: republish every Skeleton3DArray from /skeletons_in on /skeletons_out."""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rclpy  # noqa: E402
from posynda_ros.msg import Skeleton3DArray  # noqa: E402

from posynda_ros.transport import OUTPUT_QOS  # noqa: E402

rclpy.init()
node = rclpy.create_node("echo_skeletons")
publisher = node.create_publisher(Skeleton3DArray, "skeletons_out", OUTPUT_QOS)
node.create_subscription(Skeleton3DArray, "skeletons_in", publisher.publish, OUTPUT_QOS)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
rclpy.shutdown()
