"""The project's launcher: starts the ROS graph from launch/robot.yaml, one process per node,
as ros2 launch would (ros2 launch itself is not installable from PyPI)."""
