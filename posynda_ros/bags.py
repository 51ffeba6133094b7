"""rosbag2 files (sqlite3 and MCAP) through `rosbags`: no ROS install needed to read or write."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore, get_types_from_msg
from rosbags.typesys.store import Typestore

from adaptation.camera import Intrinsics
from adaptation.mount import CameraMount, quaternion_matrix
from posynda_ros.images import to_rgb
from posynda_ros.messages import stamp_seconds

MSGS_PACKAGE = "posynda_ros"
MSGS_TYPES = ("Keypoint2D", "Skeleton3D", "Skeleton3DArray")


def msgs_share_dir() -> Path:
    """The installed share/posynda_ros (its msg/): ament index first (ROS install), else the venv prefix."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(MSGS_PACKAGE))
    except (ImportError, LookupError, OSError):
        path = Path(sys.prefix) / "share" / MSGS_PACKAGE
        if not (path / "msg").is_dir():
            raise FileNotFoundError(
                f"the {MSGS_PACKAGE} messages are not installed (looked in the ament index and {path}); "
                "run `make setup` or build the workspace with colcon"
            ) from None
        return path


def make_typestore() -> Typestore:
    """The ROS 2 kilted types plus ours, for reading and writing bags."""
    store = get_typestore(Stores.ROS2_KILTED)
    msg_dir = msgs_share_dir() / "msg"
    types = {}
    for name in MSGS_TYPES:
        text = (msg_dir / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"{MSGS_PACKAGE}/msg/{name}"))
    store.register(types)
    return store


IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
TF_STATIC_TOPIC = "/tf_static"


def pick_topic(topics: dict[str, str], wanted: str | None, types: tuple[str, ...], what: str, paths) -> str:
    """The named topic (checked), or the only one of the right type; otherwise a clear error."""
    if wanted:
        if wanted not in topics:
            raise ValueError(f"{what} topic {wanted!r} is not in {', '.join(map(str, paths))}; topics: {sorted(topics)}")
        if topics[wanted] not in types:
            raise ValueError(f"topic {wanted!r} has type {topics[wanted]}, expected one of {types}")
        return wanted
    found = sorted(t for t, msgtype in topics.items() if msgtype in types)
    if not found:
        raise ValueError(f"no {what} topic ({' or '.join(types)}) in {', '.join(map(str, paths))}")
    if len(found) > 1:
        raise ValueError(f"several {what} topics {found}; choose one with the topic flag")
    return found[0]


def read_camera_frames(paths: list[Path], image_topic: str | None = None, info_topic: str | None = None):
    """Yield (stamp_s, rgb, Intrinsics) for every image of one camera in rosbag2 bags (sqlite3 or MCAP).

    Images pair with the camera_info whose header stamp is nearest (not the log time). Raises
    ValueError for missing topics, missing or uncalibrated camera_info, or undecodable images.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such bag")
    with AnyReader(paths, default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        image_topic = pick_topic(topics, image_topic, IMAGE_TYPES, "image", paths)
        info_topic = pick_topic(topics, info_topic, (CAMERA_INFO_TYPE,), "camera_info", paths)
        infos = []
        for connection, _, raw in reader.messages([c for c in reader.connections if c.topic == info_topic]):
            info = reader.deserialize(raw, connection.msgtype)
            infos.append((stamp_seconds(info.header), info))
        if not infos:
            raise ValueError(f"camera_info topic {info_topic!r} has no messages")
        infos.sort(key=lambda item: item[0])
        info_stamps = np.array([s for s, _ in infos])
        cache: dict[int, Intrinsics] = {}
        for connection, _, raw in reader.messages([c for c in reader.connections if c.topic == image_topic]):
            msg = reader.deserialize(raw, connection.msgtype)
            stamp = stamp_seconds(msg.header)
            nearest = int(np.abs(info_stamps - stamp).argmin())
            if nearest not in cache:
                info = infos[nearest][1]
                cache[nearest] = Intrinsics.from_camera_info(list(info.k), list(info.d), info.width, info.height)
            yield stamp, to_rgb(msg), cache[nearest]


def read_camera_mount(paths: list[Path], info_topic: str | None = None, base_frame: str | None = None) -> CameraMount | None:
    """The camera's mount from /tf_static: the pose of the camera_info's frame (its optical frame)
    in `base_frame` (default: the root of its tf tree, e.g. base_footprint on the floor).
    None when the bags have no /tf_static; ValueError when it does not connect the camera to the base."""
    paths = [Path(p) for p in paths]
    with AnyReader(paths, default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        if TF_STATIC_TOPIC not in topics:
            return None
        info_topic = pick_topic(topics, info_topic, (CAMERA_INFO_TYPE,), "camera_info", paths)
        camera_frame = None
        for connection, _, raw in reader.messages([c for c in reader.connections if c.topic == info_topic]):
            camera_frame = reader.deserialize(raw, connection.msgtype).header.frame_id
            break
        parents: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}   # child -> (parent, R, t): p_parent = R p_child + t
        for connection, _, raw in reader.messages([c for c in reader.connections if c.topic == TF_STATIC_TOPIC]):
            for tf in reader.deserialize(raw, connection.msgtype).transforms:
                q, v = tf.transform.rotation, tf.transform.translation
                parents[tf.child_frame_id.lstrip("/")] = (tf.header.frame_id.lstrip("/"), quaternion_matrix(q.x, q.y, q.z, q.w),
                                                          np.array([v.x, v.y, v.z]))
    if not camera_frame:
        raise ValueError(f"camera_info on {info_topic!r} has no header.frame_id to look up in {TF_STATIC_TOPIC}")
    frame, rotation, translation, chain = camera_frame.lstrip("/"), np.eye(3), np.zeros(3), [camera_frame.lstrip("/")]
    while frame in parents and frame != base_frame:
        parent, r, t = parents[frame]
        rotation, translation, frame = r @ rotation, r @ translation + t, parent
        chain.append(frame)
        if len(chain) > 64:
            raise ValueError(f"{TF_STATIC_TOPIC} has a cycle: {' -> '.join(chain[:8])} ...")
    if len(chain) == 1 or (base_frame and frame != base_frame):
        raise ValueError(f"{TF_STATIC_TOPIC} does not connect the camera frame {camera_frame!r} to "
                         f"{base_frame or 'any parent frame'!r} (frames: {sorted(set(parents) | {p for p, _, _ in parents.values()})}); "
                         "pass --base-frame or give the mount with --mount")
    return CameraMount.from_optical_frame(rotation, translation, source=f"{TF_STATIC_TOPIC} {frame} -> {chain[0]}")


def write_camera_bag(path: Path, frames, intrinsics: Intrinsics | None, frame_id: str = "camera_optical_frame",
                     image_topic: str = "/camera/image_raw", info_topic: str = "/camera/camera_info",
                     storage: str = "mcap", compressed: bool = False,
                     static_transforms: list[tuple[str, str, np.ndarray, np.ndarray]] = ()) -> Path:
    """Write (stamp_s, rgb) frames with one camera_info per image into a new rosbag2 bag, and
    `static_transforms` (parent, child, translation xyz, quaternion xyzw) on /tf_static.

    intrinsics None writes an all-zero K, as drivers of uncalibrated cameras publish.
    """
    store = get_typestore(Stores.ROS2_KILTED)
    types = store.types
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    CameraInfo = types["sensor_msgs/msg/CameraInfo"]
    RegionOfInterest = types["sensor_msgs/msg/RegionOfInterest"]
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        if static_transforms:
            tf_type = "tf2_msgs/msg/TFMessage"
            tf_conn = writer.add_connection(TF_STATIC_TOPIC, tf_type, typestore=store)
            geometry = lambda name: types[f"geometry_msgs/msg/{name}"]
            message = types[tf_type](transforms=[
                geometry("TransformStamped")(header=Header(stamp=Time(sec=0, nanosec=0), frame_id=parent), child_frame_id=child,
                                             transform=geometry("Transform")(translation=geometry("Vector3")(*map(float, xyz)),
                                                                             rotation=geometry("Quaternion")(*map(float, quaternion))))
                for parent, child, xyz, quaternion in static_transforms])
            writer.write(tf_conn, 0, store.serialize_cdr(message, tf_type))
        image_conn = writer.add_connection(image_topic, image_type, typestore=store)
        info_conn = writer.add_connection(info_topic, "sensor_msgs/msg/CameraInfo", typestore=store)
        for stamp_s, rgb in frames:
            sec, nanosec = divmod(round(stamp_s * 1e9), 10**9)
            header = Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)
            if compressed:
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                image = types[image_type](header=header, format="jpeg", data=np.frombuffer(jpeg.tobytes(), np.uint8))
            else:
                image = types[image_type](header=header, height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8",
                                          is_bigendian=0, step=rgb.shape[1] * 3, data=rgb.reshape(-1))
            if intrinsics is None:
                k, d = np.zeros(9), np.zeros(5)
            else:
                k = np.array([intrinsics.fx, 0, intrinsics.cx, 0, intrinsics.fy, intrinsics.cy, 0, 0, 1], dtype=np.float64)
                d = np.array(intrinsics.distortion, dtype=np.float64)
            info = CameraInfo(header=header, height=rgb.shape[0], width=rgb.shape[1],
                              distortion_model="plumb_bob", d=d, k=k,
                              r=np.eye(3).reshape(-1), p=np.concatenate([k.reshape(3, 3), np.zeros((3, 1))], 1).reshape(-1),
                              binning_x=0, binning_y=0,
                              roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            log_time = int(stamp_s * 1e9)
            writer.write(info_conn, log_time, store.serialize_cdr(info, info_conn.msgtype))
            writer.write(image_conn, log_time, store.serialize_cdr(image, image_type))
    return Path(path)
