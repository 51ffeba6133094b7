"""Proof of life: the lift node in its own process, real video frames over rclpy, and bad input."""
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from posynda_ros.msg import Skeleton3D, Skeleton3DArray
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import Marker, MarkerArray

from adaptation.skeleton import bone_lengths
from posynda_ros.messages import from_message, stamp_seconds
from posynda_ros.transport import OUTPUT_QOS, input_qos
from rosutil import spin_until, stop_peer
from video import FRAME, camera_info_message, image_message, read_frames


def start_node(*parameters: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "posynda_ros.lift_node", "--ros-args", "-r", "image:=/cam/image",
            "-r", "camera_info:=/cam/camera_info", "-p", "hypotheses:=2", "-p", "no_image_warning_s:=1.0"]
    for p in parameters:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Harness:
    """The test's side: publishes camera data, records what the node publishes."""

    def __init__(self, name: str):
        self.node = rclpy.create_node(name)
        self.images = self.node.create_publisher(Image, "/cam/image", input_qos("reliable", 10))
        self.infos = self.node.create_publisher(CameraInfo, "/cam/camera_info", input_qos("reliable", 10))
        self.skeletons, self.markers, self.diagnostics = [], [], []
        self.node.create_subscription(Skeleton3DArray, "skeletons", self.skeletons.append, OUTPUT_QOS)
        self.node.create_subscription(MarkerArray, "skeleton_markers", self.markers.append, OUTPUT_QOS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, OUTPUT_QOS)

    def wait_for_node(self, timeout_s=60):
        assert spin_until(self.node, lambda: self.images.get_subscription_count() > 0 and len(self.diagnostics) > 0,
                          timeout_s), "the node never came up"
        self.infos.publish(camera_info_message(0.0))      # so that the first image finds its camera
        spin_until(self.node, lambda: False, 0.5)

    def send(self, image, seconds, info=None, settle_s=0.25):
        """Publish one frame (and camera_info), then give the node time to answer."""
        self.infos.publish(info or camera_info_message(seconds))
        self.images.publish(image)
        spin_until(self.node, lambda: False, settle_s)

    def send_until(self, image, seconds, condition, info=None, timeout_s=5.0) -> bool:
        """Publish the frame (and camera_info) every 0.5 s until `condition()` holds: the first best-effort
        messages after discovery may be lost, which is not what these tests are about."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.send(image, seconds, info=info, settle_s=0.0)
            if spin_until(self.node, condition, min(0.5, max(0.0, deadline - time.monotonic()))):
                return True
        return False

    def send_and_wait(self, image, seconds, timeout_s=10.0):
        """Publish one frame and wait for its skeleton array, so that the node never has to drop one."""
        before = len(self.skeletons)
        self.send(image, seconds, settle_s=0.0)
        return spin_until(self.node, lambda: len(self.skeletons) > before, timeout_s)

    def last_status(self):
        return {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values}, self.diagnostics[-1].status[0]


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def test_node_lifts_real_video_frames_with_the_image_header(ros, tmp_path):
    mount = tmp_path / "mount.yaml"
    mount.write_text("height_m: 0.6\npitch_deg: 5.0\n")
    node = start_node(f"camera_mount:={mount}")
    harness = Harness("node_test_video")
    try:
        harness.wait_for_node()
        frames = read_frames(30, start=4, step=2)   # MediaPipe locks on from frame 4
        sent = [100.0 + i / 15 for i in range(len(frames))]
        for rgb, seconds in zip(frames, sent):
            assert harness.send_and_wait(image_message(rgb, seconds), seconds), f"no answer for the image at {seconds}"
    finally:
        node.terminate()
        output = stop_peer(node)
        harness.node.destroy_node()
    people = [a for a in harness.skeletons if a.skeletons]
    assert len(people) >= len(frames) - 3, output[-3000:]
    # with a mount and no model_dir the node takes the shipped level model and lifts in the level camera
    assert "lifter level-" in output and ("people sized from the floor and lifted in the level camera: camera mount from "
                                          "the camera_mount parameter, height 0.60 m, pitch 5.0 deg") in output
    for array in people:
        stamp_s = stamp_seconds(array.header)
        assert any(abs(stamp_s - s) < 1e-6 for s in sent), "header.stamp must be the image's stamp"
        assert array.header.frame_id == FRAME
        skeleton = array.skeletons[0]
        assert skeleton.layout == Skeleton3D.LAYOUT_H36M17 and len(skeleton.positions) == 17
        assert skeleton.position_mode == Skeleton3D.POSITION_CAMERA_FRAME
        estimate = from_message(skeleton)
        assert np.isfinite(estimate.positions_m).all() and np.isfinite(estimate.uncertainty_m).all()
        assert 0 < estimate.uncertainty_m.max() < 1.0
        bones = bone_lengths(estimate.positions_m)
        assert bones.max() < 0.8 and 1.5 < bones.sum() < 6.0, f"implausible bone lengths {bones.round(2)}"
        assert 2.0 < estimate.positions_m[0, 2] < 40.0, "the person stands metres in front of the camera"
    assert harness.markers[-1].markers[0].action == Marker.DELETEALL
    for array in harness.markers:
        for marker in array.markers:
            assert all(np.isfinite([p.x, p.y, p.z]).all() for p in marker.points)
    status, _ = harness.last_status()
    assert status["backend"] == "onnxruntime-cpu" and float(status["lift_ms"]) > 0
    assert status["camera_mount"].startswith("the camera_mount parameter: height 0.60 m")
    assert 0.6 < float(status["floor_scale_last"]) < 1.5          # people were sized from the floor


def test_bad_input_is_logged_counted_and_skipped_while_the_node_keeps_running(ros):
    node = start_node()
    harness = Harness("node_test_bad_input")
    try:
        harness.wait_for_node()
        good = read_frames(1, start=6)[0]    # a frame MediaPipe detects from scratch
        assert harness.send_until(image_message(good, 200.0), 200.0, info=camera_info_message(200.0, zero=True),
                                  condition=lambda: bool(harness.diagnostics)
                                  and "K is missing or all zero" in harness.last_status()[0]["last_problem"])

        harness.infos.publish(camera_info_message(200.5))     # calibrated again
        spin_until(harness.node, lambda: False, 0.5)
        harness.skeletons.clear()      # a good frame still queued may be lifted with the new calibration
        problems = []
        yuv = image_message(good, 201.0)
        yuv.encoding = "yuv422"
        problems.append((yuv, "unsupported image encoding 'yuv422'"))
        short = image_message(good, 202.0)
        short.step = 10
        problems.append((short, "step 10 is smaller"))
        empty = Image(height=0, width=0, encoding="rgb8", step=0, data=b"")
        empty.header.stamp, empty.header.frame_id = image_message(good, 203.0).header.stamp, FRAME
        problems.append((empty, "zero-size image"))
        for msg, text in problems:
            seconds = stamp_seconds(msg.header)
            harness.send(msg, seconds)
            assert spin_until(harness.node, lambda: text in harness.last_status()[0]["last_problem"], 5), text
        assert not harness.skeletons, "nothing may be published for rejected images"

        blank = np.full_like(good, 127)
        harness.send(image_message(blank, 204.0), 204.0, settle_s=1.0)
        assert spin_until(harness.node, lambda: len(harness.skeletons) >= 1, 5)
        assert all(s.track_state == Skeleton3D.TRACK_LOST for s in harness.skeletons[-1].skeletons), \
            "nobody in view: at most the last person, reported lost"
        count = len(harness.skeletons)
        harness.send(image_message(blank, 204.1), 204.1, settle_s=1.0)
        assert spin_until(harness.node, lambda: len(harness.skeletons) > count, 5)
        assert harness.skeletons[-1].skeletons == [], "still nobody in view: an empty array"

        for seconds in (210.0, 210.1, 5.0, 5.1, 5.2):   # a bag loop: time goes backwards
            harness.send(image_message(good, seconds), seconds, settle_s=0.4)
        assert spin_until(harness.node, lambda: any(a.header.stamp.sec == 5 and a.skeletons for a in harness.skeletons), 5)
        assert node.poll() is None, "the node must survive all of it"
        status, _ = harness.last_status()
        assert int(status["rejected"]) >= 4
    finally:
        node.terminate()
        stop_peer(node)
        harness.node.destroy_node()


def test_a_model_that_fails_to_load_is_reported_and_the_node_keeps_running(ros, tmp_path):
    node = start_node(f"model_dir:={tmp_path / 'no_such_model'}")
    harness = Harness("node_test_bad_model")
    try:
        assert spin_until(harness.node, lambda: harness.diagnostics and harness.last_status()[1].level == DiagnosticStatus.ERROR, 60)
        assert "model failed to load" in harness.last_status()[1].message
        assert harness.last_status()[0]["lifecycle_state"] == "unconfigured"
        assert harness.images.get_subscription_count() == 0 and node.poll() is None
    finally:
        node.terminate()
        output = stop_peer(node)
        harness.node.destroy_node()
    assert output.count("model failed to load") == 1, "logged clearly once"


def test_compressed_input_is_read_from_the_image_transport_topic(ros):
    """compressed:=true subscribes <image>/compressed after remapping, as image_transport names it."""
    import cv2
    from sensor_msgs.msg import CompressedImage
    node = start_node("compressed:=true")
    harness = Harness("node_test_compressed")
    jpegs = harness.node.create_publisher(CompressedImage, "/cam/image/compressed", input_qos("reliable", 10))
    try:
        assert spin_until(harness.node, lambda: jpegs.get_subscription_count() > 0, 60), "nobody on /cam/image/compressed"
        assert harness.images.get_subscription_count() == 0, "the raw topic must not be subscribed"
        harness.infos.publish(camera_info_message(0.0))
        rgb = read_frames(1, start=8)[0]
        message = CompressedImage(format="jpeg", data=cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes())
        message.header = image_message(rgb, 200.0).header
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(a.skeletons for a in harness.skeletons):
            harness.infos.publish(camera_info_message(200.0))
            jpegs.publish(message)
            spin_until(harness.node, lambda: any(a.skeletons for a in harness.skeletons), 0.5)
    finally:
        node.terminate()
        output = stop_peer(node)
        harness.node.destroy_node()
    assert any(a.skeletons for a in harness.skeletons), output[-3000:]


def test_two_nodes_in_two_namespaces_each_publish_their_own_skeletons(ros, tmp_path):
    """One `/**` parameter file for both; each node's topics live under its namespace."""
    params = tmp_path / "lift.yaml"
    params.write_text("/**:\n  ros__parameters:\n    hypotheses: 1\n    no_image_warning_s: 1.0\n")
    nodes = [subprocess.Popen([sys.executable, "-m", "posynda_ros.lift_node", "--ros-args", "-r", f"__ns:=/{ns}",
                               "--params-file", str(params), "-r", "image:=/cam/image", "-r", "camera_info:=/cam/camera_info"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for ns in ("robot1", "robot2")]
    harness = Harness("node_test_namespaces")
    received = {ns: [] for ns in ("robot1", "robot2")}
    for ns, bucket in received.items():
        harness.node.create_subscription(Skeleton3DArray, f"/{ns}/skeletons", bucket.append, OUTPUT_QOS)
    try:
        assert spin_until(harness.node, lambda: harness.images.get_subscription_count() >= 2, 60), "the nodes never came up"
        rgb = read_frames(1, start=8)[0]
        assert harness.send_until(image_message(rgb, 300.0), 300.0,
                                  lambda: all(any(a.skeletons for a in b) for b in received.values()), timeout_s=30)
    finally:
        outputs = []
        for node in nodes:
            node.terminate()
            outputs.append(stop_peer(node))
        harness.node.destroy_node()
    for output in outputs:
        assert "1 hypotheses" in output, output[-2000:]            # the /** file reached both nodes
    assert not harness.skeletons, "nothing on the un-namespaced /skeletons"


def test_bad_parameters_are_named_and_the_node_keeps_running(ros):
    node = start_node("hypotheses:=0", "window_mode:=sideways", "camera_mount:=/nowhere/mount.yaml")
    harness = Harness("node_test_bad_parameters")
    try:
        assert spin_until(harness.node, lambda: harness.diagnostics and harness.last_status()[1].level == DiagnosticStatus.ERROR, 60)
        message = harness.last_status()[1].message
        assert message.startswith("bad parameters: hypotheses") and "model failed to load" not in message
        assert "window_mode must be one of causal, centered, got 'sideways'" in message
        assert "camera_mount: camera mount file /nowhere/mount.yaml does not exist" in message
        assert node.poll() is None
    finally:
        node.terminate()
        stop_peer(node)
        harness.node.destroy_node()


def test_lifecycle_transitions_start_and_stop_the_node(ros):
    """autostart:=false: nothing is subscribed until configure + activate (lifecycle services over
    rclpy); deactivate unsubscribes, cleanup releases the model, and it can be configured again."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    node = start_node("autostart:=false")
    harness = Harness("node_test_lifecycle")
    change = harness.node.create_client(ChangeState, "/posynda_lift/change_state")
    get_state = harness.node.create_client(GetState, "/posynda_lift/get_state")

    def call(client, request):
        future = client.call_async(request)
        assert spin_until(harness.node, future.done, 60), f"no answer from {client.srv_name}"
        return future.result()

    def transition(transition_id: int) -> bool:
        return call(change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def state() -> str:
        return call(get_state, GetState.Request()).current_state.label

    try:
        assert change.wait_for_service(timeout_sec=60) and get_state.wait_for_service(timeout_sec=10)
        assert state() == "unconfigured" and harness.images.get_subscription_count() == 0
        assert transition(Transition.TRANSITION_CONFIGURE) and state() == "inactive"
        assert harness.images.get_subscription_count() == 0, "inactive: not listening yet"
        assert transition(Transition.TRANSITION_ACTIVATE) and state() == "active"
        harness.wait_for_node()
        rgb = read_frames(1, start=8)[0]
        assert harness.send_until(image_message(rgb, 400.0), 400.0, lambda: any(a.skeletons for a in harness.skeletons), timeout_s=30)
        assert transition(Transition.TRANSITION_DEACTIVATE) and state() == "inactive"
        assert spin_until(harness.node, lambda: harness.images.get_subscription_count() == 0, 10)
        assert transition(Transition.TRANSITION_CLEANUP) and state() == "unconfigured"
        assert transition(Transition.TRANSITION_CONFIGURE) and state() == "inactive"
        assert node.poll() is None
    finally:
        node.terminate()
        stop_peer(node)
        harness.node.destroy_node()


def test_with_max_people_two_both_people_are_published_with_their_own_ids(ros):
    node = start_node("max_people:=2")
    harness = Harness("node_test_two_people")
    try:
        harness.wait_for_node()
        for i, rgb in enumerate(read_frames(30, start=58)):        # the woman walks past the man on the box
            assert harness.send_and_wait(image_message(rgb, 500.0 + i / 30), 500.0 + i / 30)
    finally:
        node.terminate()
        output = stop_peer(node)
        harness.node.destroy_node()
    pairs = [a.skeletons for a in harness.skeletons if len(a.skeletons) == 2]
    assert len(pairs) >= 15, output[-3000:]
    assert all(a.track_id != b.track_id for a, b in pairs)
    assert len({s.track_id for pair in pairs for s in pair}) == 2, "each keeps one id"
    assert "up to 2 people" in output
