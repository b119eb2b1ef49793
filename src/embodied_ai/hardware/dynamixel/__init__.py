"""Dynamixel Protocol 2.0 servo buses (X-series).

The protocol-level emulator used by the tests lives in
``embodied_ai.hardware.dynamixel.emulator``; it is not imported here because it needs the
``crc`` package, which the driver itself does not.
"""

from embodied_ai.hardware.dynamixel.driver import DynamixelBus, ServoConfig

__all__ = ["DynamixelBus", "ServoConfig"]
