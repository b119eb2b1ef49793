"""Motion control: setpoint profiles and the servo controller core."""

from embodied_ai.control.commands import CommandHandle, CommandState
from embodied_ai.control.controller import ControllerStatus, ServoController

__all__ = ["CommandHandle", "CommandState", "ControllerStatus", "ServoController"]
