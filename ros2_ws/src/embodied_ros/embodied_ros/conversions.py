"""Conversions between the core library's types and ROS messages (no logic beyond mapping)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from embodied_interfaces.msg import HardwareState
from sensor_msgs.msg import Imu, JointState

from embodied_ai.control import ControllerStatus
from embodied_ai.diagnostics import HardwareView, Status
from embodied_ai.hardware.base import ImuReading
from embodied_ai.robot.description import IMU_FRAME


def joint_state_msg(status: ControllerStatus, stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(status.positions)
    msg.position = list(status.positions.values())
    msg.velocity = [status.velocities.get(j, 0.0) for j in msg.name]
    msg.effort = [status.efforts.get(j, 0.0) for j in msg.name]
    return msg


def imu_msg(reading: ImuReading, stamp: Time) -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = IMU_FRAME
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = reading.orientation
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = reading.angular_velocity
    acc = msg.linear_acceleration
    acc.x, acc.y, acc.z = reading.linear_acceleration
    return msg


def hardware_state_msg(
    status: ControllerStatus, backend: str, loop_rate_hz: float, events: Sequence[str], stamp: Time
) -> HardwareState:
    msg = HardwareState()
    msg.header.stamp = stamp
    msg.backend = backend
    msg.loop_rate_hz = float(loop_rate_hz)
    msg.joint_names = list(status.positions)
    msg.temperatures = [status.temperatures.get(j, math.nan) for j in msg.joint_names]
    msg.joint_faults = [status.joint_faults.get(j, "") for j in msg.joint_names]
    msg.joint_warnings = [status.warnings.get(j, "") for j in msg.joint_names]
    msg.force_sensor_names = list(status.forces)
    msg.forces = [float(f) for f in status.forces.values()]
    msg.imu_available = status.imu is not None
    if status.imu is not None:
        msg.imu = imu_msg(status.imu, stamp)
    msg.emergency_stop = status.emergency_stop
    msg.emergency_stop_reason = status.emergency_stop_reason
    msg.events = list(events)
    return msg


def hardware_view(msg: HardwareState) -> HardwareView:
    return HardwareView(
        backend=msg.backend,
        loop_rate_hz=msg.loop_rate_hz,
        joint_names=list(msg.joint_names),
        temperatures=list(msg.temperatures),
        joint_faults=list(msg.joint_faults),
        joint_warnings=list(msg.joint_warnings),
        forces=dict(zip(msg.force_sensor_names, msg.forces)),
        imu_available=msg.imu_available,
        emergency_stop=msg.emergency_stop,
        emergency_stop_reason=msg.emergency_stop_reason,
    )


def diagnostic_status_msg(status: Status) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=bytes([int(status.level)]),
        name=status.name,
        message=status.message,
        hardware_id=status.hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in status.values.items()],
    )
