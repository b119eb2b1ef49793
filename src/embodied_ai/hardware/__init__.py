"""Hardware back ends behind one interface: the simulated robot and real servo buses."""

from embodied_ai.hardware.base import (
    BusFault,
    HardwareSnapshot,
    ImuReading,
    JointReading,
    RobotHardware,
)

__all__ = ["BusFault", "HardwareSnapshot", "ImuReading", "JointReading", "RobotHardware"]
