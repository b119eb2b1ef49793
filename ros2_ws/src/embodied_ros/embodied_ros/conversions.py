"""Conversions between the core library's types and ROS messages (no logic beyond mapping)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from embodied_interfaces.msg import HardwareState, SimObjects
from geometry_msgs.msg import Point, WrenchStamped
from sensor_msgs.msg import Imu, JointState, Temperature

from embodied_ai.control import ControllerStatus
from embodied_ai.diagnostics import HardwareView, Status
from embodied_ai.hardware.base import ImuReading
from embodied_ai.hardware.sim import ObjectState
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES, IMU_FRAME


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


def diagnostic_array_msg(statuses: Sequence[Status], stamp: Time) -> DiagnosticArray:
    array = DiagnosticArray(status=[diagnostic_status_msg(s) for s in statuses])
    array.header.stamp = stamp
    return array


def wrench_msg(sensor: str, force_n: float, stamp: Time) -> WrenchStamped:
    """A gripper's grip force (N) on wrench.force.z, in its force sensor's frame."""
    msg = WrenchStamped()
    msg.header.stamp, msg.header.frame_id = stamp, FORCE_SENSOR_FRAMES[sensor]
    msg.wrench.force.z = float(force_n)
    return msg


def temperature_msg(joint: str, temperature_c: float, stamp: Time) -> Temperature:
    """A motor's temperature (degrees C) in its joint's link frame."""
    msg = Temperature(temperature=float(temperature_c), variance=0.0)
    msg.header.stamp, msg.header.frame_id = stamp, f"{joint}_link"
    return msg


def sim_objects_msg(states: Sequence[ObjectState], table_z_m: float, stamp: Time) -> SimObjects:
    """The simulator's objects: holder ("l", "r", "" on the table) and, on the table, where (base_link)."""
    msg = SimObjects()
    msg.header.stamp, msg.header.frame_id = stamp, "base_link"
    for object_id, holder, table_xy in states:
        x, y = table_xy or (0.0, 0.0)
        msg.ids.append(object_id)
        msg.holders.append(holder)
        msg.positions.append(Point(x=x, y=y, z=table_z_m))
    return msg
