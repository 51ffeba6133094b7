"""ros2 launch posynda_ros lift.launch.py image:=/camera/image_raw camera_info:=/camera/camera_info
       [namespace:=robot1] [rviz:=true] [camera_transport:=true]

Starts the `lift` node (its console-script twin, without ROS's launch tools, is
`lift --ros-args --params-file config/lift.yaml -r image:=... -r camera_info:=...`). It is a
lifecycle node that configures and activates itself (`autostart: true` in the parameter file);
with `autostart: false` it waits for a lifecycle manager (`ros2 lifecycle set <node> configure`). The parameter
file uses `/**`, so it applies under any namespace; RViz gets a copy of its config with the
namespaced marker topic. camera_transport:=true gives the node the shipped Fast DDS profile
(32 MiB shared memory, README "Image transport"); it is off by default because it changes how
the whole process talks DDS.
"""
import os
import tempfile
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

MARKER_TOPIC = "/skeleton_markers"


def namespaced_rviz(context, share: str):
    """RViz (rviz:=true) with its config's marker topic moved under the launch namespace."""
    if LaunchConfiguration("rviz").perform(context).lower() not in ("1", "true", "yes"):
        return []
    namespace = LaunchConfiguration("namespace").perform(context).strip("/")
    text = Path(share, "rviz", "posynda.rviz").read_text()
    if namespace:
        text = text.replace(f"Value: {MARKER_TOPIC}", f"Value: /{namespace}{MARKER_TOPIC}")
    config = Path(tempfile.mkdtemp(prefix="posynda_rviz_"), "posynda.rviz")
    config.write_text(text)
    return [Node(package="rviz2", executable="rviz2", namespace=namespace, arguments=["-d", str(config)])]


def lift_node(context):
    """The lift node; camera_transport:=true passes --camera-transport (the node then selects the profile)."""
    enabled = LaunchConfiguration("camera_transport").perform(context).lower() in ("1", "true", "yes")
    return [Node(
        package="posynda_ros",
        executable="lift",
        name="posynda_lift",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file")],
        remappings=[("image", LaunchConfiguration("image")), ("camera_info", LaunchConfiguration("camera_info"))],
        arguments=["--camera-transport"] if enabled else [],
        output="screen",
    )]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("posynda_ros")
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="sensor_msgs/Image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info", description="sensor_msgs/CameraInfo topic"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "lift.yaml"),
                              description="node parameters (YAML, `/**` keys)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz with the skeleton display"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for the node and its topics"),
        DeclareLaunchArgument("camera_transport", default_value="false",
                              description="use the shipped Fast DDS shared-memory profile for large images"),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=lift_node),
                              OpaqueFunction(function=namespaced_rviz, args=[share])])
