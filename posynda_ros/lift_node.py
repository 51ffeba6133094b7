"""The `lift` node: camera images -> metric 3D skeletons (posynda_ros/Skeleton3DArray) + RViz markers.

A lifecycle node (LiftNode). Subscribes `image` (sensor_msgs/Image; with compressed:=true
sensor_msgs/CompressedImage on `<image>/compressed`, as image_transport names it, after remapping)
and `camera_info`; publishes `skeletons` (one Skeleton3D per person, with a track id that stays
while the person stays in view, TRACK_LOST once when they go), `skeleton_markers` and
/diagnostics. Images are decoded and lifted on a worker thread that always takes the newest
image: when the node is busy, older images are dropped (and counted), never queued. Bad input is
logged (throttled), counted and skipped; the node keeps running and never publishes a wrong skeleton.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import replace

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray
from posynda_ros.msg import Skeleton3DArray

from adaptation.camera import Intrinsics
from adaptation.keypoint_filter import KeypointFilter
from adaptation.mount import CameraMount
from adaptation.runtime import PREFERENCE, bundled_model_dir, open_backend
from posynda_ros.images import ImageError, to_rgb
from posynda_ros.messages import array_message, marker_array, stamp_seconds
from posynda_ros.pipeline import STAGES, LiftPipeline
from posynda_ros.transport import OUTPUT_QOS, input_qos, use_camera_transport

PARAMETERS = {
    "model_dir": "",                 # model directory; empty = the shipped model: level with a camera_mount, else default
    "backend": "auto",               # auto | tensorrt | onnxruntime-cuda | onnxruntime-cpu | torch
    "threads": 2,                    # CPU threads for the lifter
    "hypotheses": 3,                 # diffusion hypotheses per frame (>= 2 gives uncertainty)
    "window_mode": "causal",         # causal (newest frame, no delay) | centered (F/2 frames late)
    "max_gap_s": 0.5,                # a larger gap between images resets the person's window
    "min_detection_score": 0.5,
    "compressed": False,             # subscribe sensor_msgs/CompressedImage on <image>/compressed instead
    "image_reliability": "best_effort",
    "image_queue_depth": 2,
    "publish_markers": True,
    "no_image_warning_s": 3.0,
    "max_people": 1,                 # people lifted per image (> 1: MediaPipe's Tasks landmarker, each with a track)
    "camera_mount": "",              # lift in the upright (or level) camera, size people from the floor: '' the model's own (adapt writes it), 'none',
                                     # or as adapt --mount: 'height_m: 1.2, pitch_deg: 15, roll_deg: 0' or a YAML file
    "autostart": True,               # configure and activate at start-up (false: a lifecycle manager drives it)
}
RANGES = {   # name: (low, high) - declared as descriptor ranges: ROS refuses a value outside
    "threads": (1, 64), "hypotheses": (1, 16), "image_queue_depth": (1, 100),
    "max_gap_s": (0.0, 10.0), "max_people": (1, 16), "min_detection_score": (0.0, 1.0), "no_image_warning_s": (0.1, 3600.0),
}
CHOICES = {"backend": ("auto", *PREFERENCE), "window_mode": ("causal", "centered"),
           "image_reliability": ("best_effort", "reliable")}


def mount_parameter(value: str) -> CameraMount | None:
    """The mount the camera_mount parameter gives: a mount as `adapt --mount` reads it, else None:
    for 'none' (people keep the lifter's learned size, the camera's roll reaches the lifter) and for ''
    (the model's own mount, known once the model is loaded: None for a model not adapted)."""
    if value.strip().lower() in ("", "none"):
        return None
    return replace(CameraMount.parse(value), source="the camera_mount parameter")


def descriptor(name: str) -> ParameterDescriptor:
    """What `ros2 param describe` shows: the comment above, the range or the choices."""
    result = ParameterDescriptor(name=name)   # read when the node is configured
    if name in RANGES:
        low, high = RANGES[name]
        if isinstance(low, int):
            result.integer_range = [IntegerRange(from_value=low, to_value=high, step=1)]
        else:
            result.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    if name in CHOICES:
        result.additional_constraints = "one of: " + ", ".join(CHOICES[name])
    return result


class LiftNode(LifecycleNode):
    """A lifecycle node. configure: read and check the parameters, load the model (an error names
    the bad value; the node stays unconfigured and says why in /diagnostics); activate: subscribe,
    start the worker, publish; deactivate: stop both; cleanup: release the model. With autostart
    (the default) it configures and activates itself at start-up."""

    def __init__(self) -> None:
        super().__init__("posynda_lift")
        self.declaration_problems = self.declare_checked_parameters()
        self.state_label = "unconfigured"
        self.error = ""
        self.params: dict = {}
        self.pipeline: LiftPipeline | None = None
        self.skeleton_pub = self.marker_pub = None
        self.inputs: list = []
        self.worker: threading.Thread | None = None
        self.image_topic = self.info_topic = ""
        self.intrinsics: Intrinsics | None = None
        self.camera_frame = ""
        self.camera_error = ""
        self.pending = None
        self.condition = threading.Condition()
        self.running = False
        self.counts = {"received": 0, "processed": 0, "published": 0, "dropped": 0, "rejected": 0}
        self.stage_ms = {stage: deque(maxlen=100) for stage in (*STAGES, "decode", "total")}
        self.latency_ms: deque[float] = deque(maxlen=100)
        self.last_problem = ""
        self.last_image_time = time.monotonic()
        self.last_counts = dict(self.counts)
        self.last_diagnostics = time.monotonic()
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        self.create_timer(1.0, self.publish_diagnostics)

    def declare_checked_parameters(self) -> list[str]:
        """Declare every parameter with its descriptor; an override out of range is named in the
        returned problems and replaced by the default (so the node can still come up and report)."""
        problems = []
        for name, default in PARAMETERS.items():
            try:
                self.declare_parameter(name, default, descriptor(name))
            except (InvalidParameterValueException, InvalidParameterTypeException) as error:
                problems.append(f"{name}: {error}")
                self.declare_parameter(name, default, descriptor(name), ignore_override=True)
        return problems

    def checked_parameters(self) -> tuple[dict, list[str]]:
        """Current values; the problems of the start-up overrides (reported by the first configure)
        plus every value not among its choices."""
        values = {name: self.get_parameter(name).value for name in PARAMETERS}
        problems, self.declaration_problems = self.declaration_problems, []
        problems += [f"{name} must be one of {', '.join(CHOICES[name])}, got {values[name]!r}"
                     for name in CHOICES if values[name] not in CHOICES[name]]
        return values, problems

    # --- lifecycle ----------------------------------------------------------------------------------
    def fail(self, error: str) -> TransitionCallbackReturn:
        self.error = error
        self.get_logger().error(error + " - the node stays unconfigured and publishes no skeletons")
        return TransitionCallbackReturn.FAILURE

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p, problems = self.checked_parameters()
        try:     # a bad mount is a bad parameter, named before the model loads
            given_mount = mount_parameter(p["camera_mount"])
        except ValueError as error:
            problems.append(f"camera_mount: {error}")
        if problems:
            return self.fail("bad parameters: " + "; ".join(problems))
        try:
            backend = open_backend(p["model_dir"] or bundled_model_dir(given_mount is not None), p["backend"], threads=p["threads"])
            mount = given_mount if p["camera_mount"].strip() else backend.camera_mount
            self.pipeline = LiftPipeline(backend, p["hypotheses"], p["window_mode"], p["max_gap_s"],
                                         p["min_detection_score"], p["max_people"], mount=mount)
        except Exception as error:  # noqa: BLE001 - any failure here must leave a running, reporting node
            return self.fail(f"model failed to load: {error}")
        self.params, self.error, self.state_label = p, "", "inactive"
        self.skeleton_pub = self.create_lifecycle_publisher(Skeleton3DArray, "skeletons", OUTPUT_QOS)
        self.marker_pub = self.create_lifecycle_publisher(MarkerArray, "skeleton_markers", OUTPUT_QOS)
        self.get_logger().info(f"lifter {backend.model_id} on {backend.name}, window {backend.frames} "
                               f"frames ({p['window_mode']}), {p['hypotheses']} hypotheses, up to {p['max_people']} people, "
                               f"2D One-Euro filter {KeypointFilter(**backend.keypoint_filter).describe()}")
        self.get_logger().info(
            f"people sized from the floor and lifted in the {backend.lifting_camera} camera: camera mount from {mount.source}, "
            f"{mount.describe()}" if mount else
            "no camera mount: people keep the lifter's learned size (set camera_mount to size them from the floor)")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self.params
        image_type, image_topic = Image, "image"
        if p["compressed"]:   # image_transport's naming: the remapped base topic + /compressed
            image_type, image_topic = CompressedImage, self.resolve_topic_name("image") + "/compressed"
        qos = input_qos(p["image_reliability"], p["image_queue_depth"])
        self.inputs = [self.create_subscription(image_type, image_topic, self.on_image, qos),
                       self.create_subscription(CameraInfo, "camera_info", self.on_camera_info, qos)]
        self.image_topic, self.info_topic = self.inputs[0].topic_name, self.inputs[1].topic_name
        self.last_image_time = time.monotonic()
        self.running = True
        self.worker = threading.Thread(target=self.work, daemon=True)
        self.worker.start()
        self.state_label = "active"
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inputs()
        self.state_label = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        self.state_label = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_inputs()
        self.release()
        self.state_label = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def stop_inputs(self) -> None:
        """Unsubscribe and stop the worker (the image it holds is dropped)."""
        for subscription in self.inputs:
            self.destroy_subscription(subscription)
        self.inputs = []
        self.running = False
        with self.condition:
            self.pending = None
            self.condition.notify_all()
        if self.worker is not None:
            self.worker.join(timeout=2.0)
            self.worker = None

    def release(self) -> None:
        for publisher in (self.skeleton_pub, self.marker_pub):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        self.skeleton_pub = self.marker_pub = None
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline = None

    # --- input -------------------------------------------------------------------------------
    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = Intrinsics.from_camera_info(list(msg.k), list(msg.d), msg.width, msg.height)
            self.camera_frame = msg.header.frame_id
            self.camera_error = ""
        except ValueError as error:
            self.intrinsics = None
            self.camera_error = f"camera_info on {self.info_topic} rejected: {error}"
            self.get_logger().error(self.camera_error, throttle_duration_sec=10.0)

    def on_image(self, msg) -> None:
        self.last_image_time = time.monotonic()
        with self.condition:
            self.counts["received"] += 1
            if self.pending is not None:
                self.counts["dropped"] += 1          # busy: the older image is dropped, never queued
            self.pending = msg
            self.condition.notify()

    # --- work ----------------------------------------------------------------------------------
    def work(self) -> None:
        while self.running:
            with self.condition:
                while self.pending is None and self.running:
                    self.condition.wait(timeout=0.2)
                msg, self.pending = self.pending, None
            if msg is not None:
                self.process_image(msg)

    def reject(self, problem: str) -> None:
        self.counts["rejected"] += 1
        self.last_problem = problem
        self.get_logger().warning(problem, throttle_duration_sec=5.0)

    def process_image(self, msg) -> None:
        if self.intrinsics is None:
            return self.reject(self.camera_error or f"no camera_info received on {self.info_topic}; skipping images")
        started = time.perf_counter()
        try:
            rgb = to_rgb(msg)
        except ImageError as error:
            return self.reject(f"image on {self.image_topic} rejected: {error}")
        if (rgb.shape[1], rgb.shape[0]) != (self.intrinsics.width, self.intrinsics.height):
            return self.reject(f"image is {rgb.shape[1]}x{rgb.shape[0]} but camera_info says "
                               f"{self.intrinsics.width}x{self.intrinsics.height}")
        decode_ms = (time.perf_counter() - started) * 1000
        try:
            result = self.pipeline.process(rgb, stamp_seconds(msg.header), self.intrinsics, context=msg.header)
        except Exception as error:  # noqa: BLE001 - a bad frame must not kill the worker
            return self.reject(f"lifting failed: {error}")
        self.counts["processed"] += 1
        for stage, ms in {**result.stage_ms, "decode": decode_ms}.items():
            self.stage_ms[stage].append(ms)
        if result.context is None:
            return
        header = result.context
        if not header.frame_id:
            header.frame_id = self.camera_frame
        self.skeleton_pub.publish(array_message(header, self.pipeline.backend.model_id, result.estimates))
        if self.params["publish_markers"]:
            self.marker_pub.publish(marker_array(header, result.estimates))
        self.counts["published"] += 1
        self.stage_ms["total"].append((time.perf_counter() - started) * 1000)
        self.latency_ms.append((self.get_clock().now().nanoseconds * 1e-9 - stamp_seconds(header)) * 1000)

    # --- diagnostics ------------------------------------------------------------------------------
    def publish_diagnostics(self) -> None:
        now = time.monotonic()
        elapsed = max(1e-3, now - self.last_diagnostics)
        rate = {k: (self.counts[k] - self.last_counts[k]) / elapsed for k in ("received", "published")}
        self.last_counts, self.last_diagnostics = dict(self.counts), now
        status = DiagnosticStatus(name="posynda_lift", hardware_id=self.camera_frame or "camera")
        silent = now - self.last_image_time
        if self.error:
            status.level, status.message = DiagnosticStatus.ERROR, self.error
        elif self.state_label != "active":
            status.level, status.message = DiagnosticStatus.WARN, f"{self.state_label}: not lifting"
        elif silent > self.params["no_image_warning_s"]:
            status.level, status.message = DiagnosticStatus.WARN, f"no image on {self.image_topic} for {silent:.0f} s"
            self.get_logger().warning(status.message, throttle_duration_sec=10.0)
        elif self.intrinsics is None:
            status.level = DiagnosticStatus.WARN
            status.message = self.camera_error or f"waiting for camera_info on {self.info_topic}"
        else:
            status.level, status.message = DiagnosticStatus.OK, "lifting"
        values = {"input_rate_hz": f"{rate['received']:.1f}", "output_rate_hz": f"{rate['published']:.1f}",
                  **{k: str(v) for k, v in self.counts.items()},
                  "backend": self.pipeline.backend.name if self.pipeline else "none",
                  "latency_ms_p50": f"{np.median(self.latency_ms):.1f}" if self.latency_ms else "nan",
                  "last_problem": self.last_problem, "lifecycle_state": self.state_label}
        if self.pipeline is not None:
            mount, size = self.pipeline.mount, self.pipeline.last_size
            values["camera_mount"] = f"{mount.source}: {mount.describe()}" if mount else "none"
            values["floor_scale_last"] = f"{size:.2f}" if size is not None else "none"
        values.update({f"{stage}_ms": f"{np.mean(v):.1f}" for stage, v in self.stage_ms.items() if v})
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(msg)

    def destroy_node(self) -> None:
        self.stop_inputs()
        self.release()
        super().destroy_node()


CAMERA_TRANSPORT_FLAG = "--camera-transport"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if CAMERA_TRANSPORT_FLAG in argv:   # opt-in: before rclpy.init, Fast DDS reads it when the participant is created
        argv.remove(CAMERA_TRANSPORT_FLAG)
        use_camera_transport()
    rclpy.init(args=argv)
    node = LiftNode()
    if node.get_parameter("autostart").value and node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
        node.trigger_activate()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
