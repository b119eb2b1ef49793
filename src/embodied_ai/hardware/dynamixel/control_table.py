"""The Dynamixel X-series control table and unit conversions, as plain data.

Addresses are those of the XM430 / XL430 family (Protocol 2.0), from the ROBOTIS e-Manual.
Both the driver and the emulator import them from here, so the two cannot drift apart.
Only the registers this project reads or writes, plus the EEPROM limits the emulator needs
to behave like a servo, are listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Register:
    """One control-table entry: where it lives and how many bytes it spans."""

    name: str
    address: int
    size: int          # bytes, little-endian on the wire
    signed: bool = False

    @property
    def end(self) -> int:
        """The first address after this register."""
        return self.address + self.size


# --- EEPROM area (writable only while torque is disabled) ---------------------------------
MODEL_NUMBER = Register("model_number", 0, 2)
FIRMWARE_VERSION = Register("firmware_version", 6, 1)
ID = Register("id", 7, 1)
BAUD_RATE = Register("baud_rate", 8, 1)
RETURN_DELAY_TIME = Register("return_delay_time", 9, 1)
OPERATING_MODE = Register("operating_mode", 11, 1)
TEMPERATURE_LIMIT = Register("temperature_limit", 31, 1)
CURRENT_LIMIT = Register("current_limit", 38, 2)
MAX_POSITION_LIMIT = Register("max_position_limit", 48, 4)
MIN_POSITION_LIMIT = Register("min_position_limit", 52, 4)
EEPROM_END = 64

# --- RAM area -------------------------------------------------------------------------------
TORQUE_ENABLE = Register("torque_enable", 64, 1)
STATUS_RETURN_LEVEL = Register("status_return_level", 68, 1)
HARDWARE_ERROR_STATUS = Register("hardware_error_status", 70, 1)
GOAL_POSITION = Register("goal_position", 116, 4, signed=True)
MOVING = Register("moving", 122, 1)
# On the XL430 address 126 is "Present Load" (0.1 % of stall torque) rather than a current;
# ServoModel.effort_per_current_unit hides that difference.
PRESENT_CURRENT = Register("present_current", 126, 2, signed=True)
PRESENT_VELOCITY = Register("present_velocity", 128, 4, signed=True)
PRESENT_POSITION = Register("present_position", 132, 4, signed=True)
PRESENT_INPUT_VOLTAGE = Register("present_input_voltage", 144, 2)
PRESENT_TEMPERATURE = Register("present_temperature", 146, 1)

#: Bytes an emulated table needs to hold every register above.
CONTROL_TABLE_SIZE = PRESENT_TEMPERATURE.end

#: The contiguous block one sync read fetches each cycle: current .. temperature.
STATE_BLOCK_START = PRESENT_CURRENT.address
STATE_BLOCK_LENGTH = PRESENT_TEMPERATURE.end - PRESENT_CURRENT.address

# Operating Mode values (address 11).
OPERATING_MODE_POSITION = 3  # single turn, goal limited to the min/max position limits

# Hardware Error Status bits (address 70); the status packet's alert bit (0x80) says
# "one of these is set".
HARDWARE_ERROR_BITS: dict[int, str] = {
    0x01: "input voltage error",
    0x04: "overheating",
    0x08: "motor encoder error",
    0x10: "electrical shock",
    0x20: "overload",
}
HARDWARE_ALERT_BIT = 0x80

# --- Unit conversions -------------------------------------------------------------------------
TICKS_PER_REVOLUTION = 4096
CENTER_TICKS = 2048                       # the horn's zero: 0 rad
RAD_PER_TICK = 2.0 * math.pi / TICKS_PER_REVOLUTION
VELOCITY_UNIT_RPM = 0.229
RAD_PER_S_PER_VELOCITY_UNIT = VELOCITY_UNIT_RPM * 2.0 * math.pi / 60.0


def ticks_to_radians(ticks: int) -> float:
    """Servo-side angle of a position register value (2048 ticks is 0 rad)."""
    return (ticks - CENTER_TICKS) * RAD_PER_TICK


def radians_to_ticks(angle: float) -> int:
    """Nearest position register value for a servo-side angle."""
    return round(angle / RAD_PER_TICK) + CENTER_TICKS


def velocity_units_to_rad_per_s(units: int) -> float:
    return units * RAD_PER_S_PER_VELOCITY_UNIT


def decode_hardware_error(status: int) -> list[str]:
    """Names of the Hardware Error Status bits that are set."""
    return [name for bit, name in HARDWARE_ERROR_BITS.items() if status & bit]


@dataclass(frozen=True)
class ServoModel:
    """What differs between X-series models that share this control table.

    ``effort_per_current_unit`` turns the raw register at address 126 into N.m. Without a
    torque sensor this is an estimate: stall torque divided by stall current (or by 1000
    load units on the XL430), which ignores friction and the no-load current.
    """

    name: str
    model_number: int
    current_unit_a: float | None     # A per unit; None where 126 is a load percentage
    effort_per_current_unit: float   # N.m per unit of the register at address 126


XM430_W350 = ServoModel("XM430-W350", 1020, current_unit_a=0.00269,
                        effort_per_current_unit=0.00269 * 4.1 / 2.3)
XM430_W210 = ServoModel("XM430-W210", 1030, current_unit_a=0.00269,
                        effort_per_current_unit=0.00269 * 3.0 / 2.3)
XL430_W250 = ServoModel("XL430-W250", 1060, current_unit_a=None,
                        effort_per_current_unit=1.5 / 1000.0)  # 0.1 % of 1.5 N.m stall

SUPPORTED_MODELS: dict[int, ServoModel] = {
    model.model_number: model for model in (XM430_W350, XM430_W210, XL430_W250)
}
