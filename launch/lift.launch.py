"""ros2 launch posynda_ros lift.launch.py image:=/camera/image_raw camera_info:=/camera/camera_info [rviz:=true]

Starts the `lift` node (its console-script twin, without ROS's launch tools, is
`lift --ros-args --params-file config/lift.yaml -r image:=... -r camera_info:=...`).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("posynda_ros")
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="sensor_msgs/Image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info", description="sensor_msgs/CameraInfo topic"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "lift.yaml"),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz with the skeleton display"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for the node and its topics"),
    ]
    lift = Node(
        package="posynda_ros",
        executable="lift",
        name="posynda_lift",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file")],
        remappings=[("image", LaunchConfiguration("image")), ("camera_info", LaunchConfiguration("camera_info"))],
        output="screen",
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", os.path.join(share, "rviz", "posynda.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, lift, rviz])
