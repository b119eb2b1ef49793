"""The servo controller node's parameters: one field per ROS parameter (declared with its
description and range by embodied_ros.kit.parameters), names and defaults as launch/robot.yaml
uses them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServoControllerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    robot_description_file: str = Field(
        default="", description="the robot's URDF (joints, limits, cameras): the only source of joint limits; a path")
    safety_config_file: str = Field(
        default="", description="safety parameters that are not joint limits (launch/safety.yaml); "
                                "empty: the built-in defaults, the same values")
    hardware: str = Field(default="sim", description="hardware back end: sim (the simulated robot) or dynamixel")
    hardware_config_file: str = Field(
        default="", description="the back end's YAML (launch/hardware_sim.yaml, hardware_dynamixel.yaml); "
                                "empty: its defaults")
    rate_hz: float = Field(default=200.0, gt=0,
                           description="control loop rate, Hz; joint_states is published once per cycle")
    realtime_priority: int = Field(
        default=80, ge=0, le=99, description="the control loop's SCHED_FIFO priority, 1-99 (0: the normal class); "
                                             "the log says when Linux does not permit it")
    loop_cpu: int = Field(
        default=-1, ge=-1, description="pin the control loop to this CPU core (-1: any); isolate it on a robot")
    autostart: bool = Field(
        default=True, description="configure and activate on start, as nav2's lifecycle manager would; "
                                  "false: wait for lifecycle transitions (change_state)")
    autostart_retry_s: float = Field(
        default=5.0, gt=0, description="while autostart cannot configure (the hardware is not there yet), "
                                       "try again after this long, s")
    detections_topic: str = Field(
        default="detections", description="perception's Detection2DArray topic: where each tracked object is, "
                                          "for grasp by object_id")
    object_max_age_s: float = Field(
        default=5.0, gt=0, description="a grasp by object_id refuses an object perception last placed longer "
                                       "ago than this, s (it may have moved)")
