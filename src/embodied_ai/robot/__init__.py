"""The robot description (URDF) and the robot contract derived from it."""

from embodied_ai.robot.description import JointLimits, RobotDescription, load_robot_description

__all__ = ["JointLimits", "RobotDescription", "load_robot_description"]
