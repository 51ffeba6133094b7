"""Camera-size images cross processes without loss with the package's QoS and transport."""
import os

import numpy as np
import rclpy
from sensor_msgs.msg import Image

from posynda_ros.transport import CAMERA_PROFILE, PROFILES_ENV, input_qos
from rosutil import spin_until, start_peer, stop_peer

COUNT = 200


def test_640x480_images_arrive_best_effort_with_the_camera_transport():
    assert os.environ[PROFILES_ENV] == str(CAMERA_PROFILE)  # set by conftest, as the node does
    rclpy.init()
    node = rclpy.create_node("image_transport_test")
    indices = []

    def on_image(msg: Image) -> None:
        pixels = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.width, 3)
        indices.append(int(np.frombuffer(pixels[0, :4, 0].tobytes(), dtype=np.uint32)[0]))

    node.create_subscription(Image, "images", on_image, input_qos("best_effort", depth=5))
    peer = start_peer("publish_images.py", str(COUNT), "30", "best_effort")
    try:
        spin_until(node, lambda: len(indices) >= COUNT or peer.poll() is not None, 40)
        spin_until(node, lambda: len(indices) >= COUNT, 2)
    finally:
        output = stop_peer(peer)
        node.destroy_node()
        rclpy.shutdown()
    assert "published 200" in output, output
    assert indices == list(range(COUNT)), f"{COUNT - len(indices)} of {COUNT} images lost"
