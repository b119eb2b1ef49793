"""What the controller can be asked to do, and the handle a caller waits on.

A command owns some joints and produces their setpoints each cycle; joints it does not own
hold their last setpoint. Exactly one command is active at a time; a new one preempts it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import Enum

from embodied_ai.control.profile import MinJerkTrajectory, StopRamp
from embodied_ai.errors import ErrorCode


class CommandState(str, Enum):
    RUNNING = "running"
    CANCELING = "canceling"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    ABORTED = "aborted"


@dataclass
class CommandHandle:
    """Shared between the control loop (which advances it) and the caller (which waits on it)."""

    kind: str
    joints: tuple[str, ...]
    state: CommandState = CommandState.RUNNING
    error_code: ErrorCode = ErrorCode.OK
    message: str = ""
    progress: float = 0.0
    result: dict[str, float] = field(default_factory=dict)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def finish(self, state: CommandState, message: str = "", error_code: ErrorCode = ErrorCode.OK) -> None:
        if self._done.is_set():
            return
        self.state, self.message, self.error_code = state, message, error_code
        if state is CommandState.SUCCEEDED:
            self.progress = 1.0
        self._done.set()


@dataclass
class MoveCommand:
    handle: CommandHandle
    trajectory: MinJerkTrajectory
    started: float


@dataclass
class StopCommand:
    """Decelerating to rest; finishes ``handle`` with ``final_state`` when at rest."""

    handle: CommandHandle | None
    ramp: StopRamp
    started: float
    final_state: CommandState
    reason: str


@dataclass
class StreamCommand:
    handle: CommandHandle
    targets: dict[str, float]


@dataclass
class GraspCommand:
    handle: CommandHandle
    joint: str
    sensor: str
    target_force: float
    started: float
    timeout_s: float


Command = MoveCommand | StopCommand | StreamCommand | GraspCommand
