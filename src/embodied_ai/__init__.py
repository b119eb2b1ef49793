"""Embodied AI runtime: the ROS-free core library.

Everything here is importable and testable without a ROS graph; the nodes in
``ros2_ws/src/embodied_ros`` are thin adapters over it.
"""

__version__ = "0.1.0"
