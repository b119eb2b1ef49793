"""The interface every hardware back end implements.

Modelled on ros2_control's hardware components: one object owns the device(s), exposes
state (joint position/velocity/effort, motor temperature, gripper force, IMU) and accepts
position commands. Back ends report per-joint communication faults instead of raising, so
the controller can stop just the affected joints; they never apply limits themselves (that
is the safety layer's job, and it runs before anything reaches a back end).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum


class BusFault(str, Enum):
    """Why a joint could not be read or written this cycle."""

    TIMEOUT = "timeout"            # no status packet in time
    CRC_ERROR = "crc_error"        # a corrupted status packet
    DEVICE_ERROR = "device_error"  # the servo reported an error (alarm bit, overload, ...)
    DISCONNECTED = "disconnected"  # the port itself is gone


@dataclass(frozen=True)
class JointReading:
    position: float     # rad
    velocity: float     # rad/s
    effort: float       # N.m (estimated from current where the servo has no torque sensor)
    temperature: float  # degrees C of the motor


@dataclass(frozen=True)
class ImuReading:
    orientation: tuple[float, float, float, float]          # quaternion x, y, z, w
    angular_velocity: tuple[float, float, float]            # rad/s
    linear_acceleration: tuple[float, float, float]         # m/s^2


@dataclass(frozen=True)
class HardwareSnapshot:
    """Everything read from the hardware in one cycle."""

    stamp: float                                   # monotonic seconds when read
    joints: Mapping[str, JointReading]             # joints read successfully this cycle
    forces: Mapping[str, float] = field(default_factory=dict)  # force sensor name -> N
    imu: ImuReading | None = None                  # None when the robot has no IMU
    faults: Mapping[str, BusFault] = field(default_factory=dict)  # joints that failed
    fault_details: Mapping[str, str] = field(default_factory=dict)


class RobotHardware(abc.ABC):
    """A hardware back end: the simulated robot or a real servo bus."""

    #: A short name for logs and diagnostics ("sim", "dynamixel").
    kind: str = "hardware"

    @property
    @abc.abstractmethod
    def joint_names(self) -> Sequence[str]:
        """The joints this back end drives."""

    @abc.abstractmethod
    def open(self) -> None:
        """Connect to the device(s); raises HardwareError when that is impossible."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device(s); safe to call twice."""

    @abc.abstractmethod
    def set_torque(self, enabled: bool) -> None:
        """Enable or disable holding torque on every joint."""

    @abc.abstractmethod
    def read(self) -> HardwareSnapshot:
        """Read the state of every joint and sensor; failures go in ``faults``."""

    @abc.abstractmethod
    def write_positions(self, targets: Mapping[str, float]) -> Mapping[str, BusFault]:
        """Send goal positions (rad). Returns the joints whose write failed."""

    def __enter__(self) -> "RobotHardware":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
