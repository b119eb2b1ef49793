"""What the launcher node answers, without ROS: the graph's services (a node each) and their control
through the Supervisor, with the one refusal the launcher makes itself: no stop or restart of the servo
controller's process while the robot moves (its joints would lose their controller mid-motion).

"Moving" is what the launcher sees on /joint_states: a joint faster than MOVING_RAD_S within the last
MOVING_WINDOW_S. A goal that is accepted but has not moved a joint yet is not seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from embodied_ai.errors import Conflict, InvalidRequest
from embodied_ai.launcher.supervisor import ServiceState, Supervisor

Action = Literal["start", "stop", "restart"]
ACTIONS: tuple[str, ...] = get_args(Action)
MOVING_RAD_S = 0.01
MOVING_WINDOW_S = 0.5
# Nodes whose process is not stopped while the robot moves.
MOTION_GUARDED = ("servo_controller",)


class MotionWatch:
    """Whether the robot moved lately, from the joint velocities it is told of."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._moved_at = -math.inf

    def observe(self, velocities: Iterable[float]) -> None:
        if any(math.isfinite(v) and abs(v) > MOVING_RAD_S for v in velocities):
            self._moved_at = self._clock()

    def moving(self) -> bool:
        return self._clock() - self._moved_at <= MOVING_WINDOW_S


@dataclass(frozen=True)
class ControlOutcome:
    service: ServiceState        # after the action
    affects: tuple[str, ...]     # every node the action stopped or started (the whole process)


class ServiceControl:
    """The launcher's services over its Supervisor; every method may block (a stop waits for the exit)."""

    def __init__(self, supervisor: Supervisor, motion: MotionWatch) -> None:
        self._supervisor, self._motion = supervisor, motion

    def services(self) -> list[ServiceState]:
        return self._supervisor.status()

    def control(self, name: str, action: str, force: bool = False) -> ControlOutcome:
        """Start, stop or restart the process of node (or process) ``name``: InvalidRequest for another
        action, NotFound for an unknown name, Conflict for a stop or restart of the servo controller's
        process while the robot moves."""
        if action not in ACTIONS:
            raise InvalidRequest(f"no action '{action}'", [f"action: one of {', '.join(ACTIONS)}"])
        service = self._supervisor.service(name)
        guarded = [node for node in service.nodes if node in MOTION_GUARDED]
        if action != "start" and guarded and self._motion.moving():
            raise Conflict(f"{action} of '{name}' refused: it would stop {guarded[0]} while the robot moves "
                           f"(a joint faster than {MOVING_RAD_S} rad/s in the last {MOVING_WINDOW_S} s); "
                           "try again once it is still")
        if action == "start":
            affects = self._supervisor.start_process(name)
        elif action == "stop":
            affects = self._supervisor.stop_process(name, force)
        else:
            affects = self._supervisor.restart_process(name, force)
        return ControlOutcome(self._supervisor.service(name), affects)


def service_record(state: ServiceState) -> dict[str, Any]:
    """A service as JSON (list_services, control_service)."""
    return {**asdict(state), "nodes": list(state.nodes)}


def service_from_record(record: dict[str, Any]) -> ServiceState:
    return ServiceState(**{**record, "nodes": tuple(record["nodes"])})
