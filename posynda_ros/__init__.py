"""ROS 2 shell of posynda_ros: nodes, bag reading, MediaPipe keypoints, message building."""
