"""ROS-free core of posynda_ros: data, model, diffusion, training, adaptation, evaluation, export.

Nothing in this package imports rclpy, MediaPipe or rosbags; the ROS shell (`posynda_ros`)
imports this package, never the other way round.
"""
