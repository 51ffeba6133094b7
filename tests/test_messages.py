"""Skeleton messages cross real processes over rclpy/Fast DDS and real rosbag2 files intact."""
import numpy as np
import pytest
import rclpy
from posynda_ros.msg import Skeleton3D, Skeleton3DArray
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from adaptation import skeleton
from posynda_ros.bags import make_typestore
from posynda_ros.messages import SkeletonEstimate, from_message, to_message
from posynda_ros.transport import OUTPUT_QOS
from rosutil import spin_until, start_peer, stop_peer
from samples import sample_skeleton_array


def test_joint_constants_match_the_skeleton_module():
    for index, name in enumerate(skeleton.JOINT_NAMES):
        assert getattr(Skeleton3D, name.upper()) == index
    assert Skeleton3D.LAYOUT_H36M17 == skeleton.LAYOUT
    assert Skeleton3D.NUM_JOINTS_H36M17 == skeleton.NUM_JOINTS


def test_estimate_round_trips_through_message():
    msg = sample_skeleton_array(seed=3).skeletons[0]
    back = to_message(from_message(msg))
    back.orientations, back.velocities = msg.orientations, msg.velocities
    assert back == msg


def test_estimate_with_wrong_shape_or_nan_is_rejected():
    good = from_message(sample_skeleton_array().skeletons[0])
    with pytest.raises(ValueError, match="positions_m"):
        to_message(SkeletonEstimate(**{**good.__dict__, "positions_m": np.zeros((16, 3))}))
    nan_positions = good.positions_m.copy()
    nan_positions[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        to_message(SkeletonEstimate(**{**good.__dict__, "positions_m": nan_positions}))


def test_skeleton_arrays_cross_processes_with_every_field_intact():
    rclpy.init()
    node = rclpy.create_node("skeleton_roundtrip_test")
    received = []
    node.create_subscription(Skeleton3DArray, "skeletons_out", received.append, OUTPUT_QOS)
    publisher = node.create_publisher(Skeleton3DArray, "skeletons_in", OUTPUT_QOS)
    peer = start_peer("echo_skeletons.py", "30")
    try:
        sent = [sample_skeleton_array(seed) for seed in range(5)]
        assert spin_until(node, lambda: publisher.get_subscription_count() > 0
                          and node.count_publishers("skeletons_out") > 0, 20), "echo peer never matched"
        spin_until(node, lambda: False, 0.5)  # let the return path match too
        for msg in sent:
            publisher.publish(msg)
        assert spin_until(node, lambda: len(received) >= len(sent), 15), f"got {len(received)} of {len(sent)}"
        assert received == sent
    finally:
        peer.kill()
        stop_peer(peer)
        node.destroy_node()
        rclpy.shutdown()


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_skeleton_arrays_round_trip_through_bags(tmp_path, storage):
    store = make_typestore()
    msgtype = "posynda_ros/msg/Skeleton3DArray"
    sent = [sample_skeleton_array(seed) for seed in range(4)]
    with Writer(tmp_path / "bag", version=9, storage_plugin=storage) as writer:
        connection = writer.add_connection("/skeletons", msgtype, typestore=store)
        for i, msg in enumerate(sent):
            # Bytes from rclpy are written as they are: rosbags must read them back.
            writer.write(connection, 1_000 + i, serialize_message(msg))
    with Reader(tmp_path / "bag") as reader:
        rows = list(reader.messages())
        assert [c.msgtype for c, _, _ in rows] == [msgtype] * len(sent)
        decoded = [store.deserialize_cdr(raw, msgtype) for _, _, raw in rows]
    for msg, plain in zip(sent, decoded):
        assert plain.header.frame_id == msg.header.frame_id
        assert plain.skeletons[1].track_id == msg.skeletons[1].track_id
        # ... and bytes serialised by rosbags deserialise in rclpy to the same message.
        assert deserialize_message(bytes(store.serialize_cdr(plain, msgtype)), Skeleton3DArray) == msg
