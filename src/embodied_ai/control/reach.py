"""Grasp by object id: where perception saw the object → arm joint targets → validated motions.

``ArmReach`` solves a simple reach for one arm: shoulder pitch, shoulder roll and elbow put
the fingers' meeting point (the force-sensor frame) on a point, with the forearm pointing
down, inside the URDF limits (scipy's bounded least squares). The wrist roll does not move
that point and keeps its angle.

``grasp_steps`` turns a reach into the sequence open → above the object → down to it →
close → lift. Every step is an ordinary ``ServoController.move``/``grasp`` call, so each one
passes the same validation (limits, velocities, e-stop, faults) as any other request; this
module never writes a setpoint itself.

``KnownObjects`` keeps the last position perception reported for each tracked object id;
``plan_object_grasp`` and ``run_object_grasp`` are the whole grasp by object id (the servo
controller's grasp action with ``object_id`` >= 0), with the result's message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embodied_ai.control.commands import CommandHandle, CommandState
from embodied_ai.control.controller import ServoController
from embodied_ai.errors import EmbodiedError, ErrorCode, SafetyViolation
from embodied_ai.hardware.base import RobotHardware
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES, GRIPPER_JOINTS, RobotDescription
from embodied_ai.robot.kinematics import Kinematics

REACH_TOLERANCE_M = 0.01      # a solution farther than this from the point is no solution
APPROACH_HEIGHT_M = 0.08      # pre-grasp: this far above the object
LIMIT_MARGIN_RAD = 0.02       # stay this far inside the URDF limits
FOREARM_DOWN_WEIGHT = 0.05    # how much "forearm vertical" counts against position (m per unit)


def arm_joints(side: str) -> tuple[str, str, str]:
    return f"shoulder_pitch_{side}", f"shoulder_roll_{side}", f"elbow_pitch_{side}"


class ReachError(EmbodiedError):
    """The point cannot be reached within the joint limits."""

    code = ErrorCode.SAFETY_VIOLATION


class ArmReach:
    def __init__(self, description: RobotDescription, kinematics: Kinematics | None = None) -> None:
        self.description = description
        self.kinematics = kinematics or Kinematics(description.urdf)

    def solve(self, side: str, point: Sequence[float] | np.ndarray, current: Mapping[str, float]) -> dict[str, float]:
        """Joint targets for ``side``'s arm putting the fingers at ``point`` (base_link, m)."""
        if side not in GRIPPER_JOINTS:
            raise SafetyViolation(f"unknown arm side '{side}'; use 'l' or 'r'")
        joints = arm_joints(side)
        limits = [self.description.limits[j] for j in joints]
        lower = np.array([lim.lower + LIMIT_MARGIN_RAD for lim in limits])
        upper = np.array([lim.upper - LIMIT_MARGIN_RAD for lim in limits])
        target = np.asarray(point, dtype=float)
        fingers = FORCE_SENSOR_FRAMES[f"gripper_{side}"]
        elbow, wrist = f"elbow_pitch_{side}_link", f"wrist_roll_{side}_link"

        def residual(q: np.ndarray) -> np.ndarray:
            positions = {**current, **dict(zip(joints, q))}
            forearm = self.kinematics.link_position(wrist, positions) - self.kinematics.link_position(elbow, positions)
            down = forearm[2] / np.linalg.norm(forearm) + 1.0     # 0 when the forearm points straight down
            return np.append(self.kinematics.link_position(fingers, positions) - target, FOREARM_DOWN_WEIGHT * down)

        # A few starts: the current pose and two reaching postures; the best fit wins.
        starts = [np.clip([current.get(j, 0.0) for j in joints], lower, upper),
                  np.clip([-1.2, 0.0, 1.0], lower, upper), np.clip([-0.6, 0.0, 0.5], lower, upper)]
        from scipy.optimize import least_squares  # here: scipy.optimize costs every controller 20 MB at import
        best = min((least_squares(residual, start, bounds=(lower, upper)) for start in starts),
                   key=lambda result: float(np.linalg.norm(result.fun[:3])))
        miss = float(np.linalg.norm(best.fun[:3]))
        if miss > REACH_TOLERANCE_M:
            raise ReachError(f"({target[0]:.2f}, {target[1]:.2f}, {target[2]:.2f}) m is out of reach of the "
                             f"{side} arm within its joint limits (closest {miss * 100:.1f} cm away)")
        return {j: float(v) for j, v in zip(joints, best.x)}


@dataclass(frozen=True)
class Step:
    """One controller request: a move to ``targets`` or, when ``grasp_force`` is set, a grasp."""

    name: str
    targets: dict[str, float]
    grasp_force: float | None = None


def grasp_steps(reach: ArmReach, side: str, point: Sequence[float], current: Mapping[str, float],
                force: float) -> list[Step]:
    """Open, go above the object, go down to it, close to ``force``, lift back up."""
    above = np.asarray(point, dtype=float) + [0.0, 0.0, APPROACH_HEIGHT_M]
    pre_grasp = reach.solve(side, above, current)
    at_object = reach.solve(side, point, {**current, **pre_grasp})
    gripper = GRIPPER_JOINTS[side]
    return [
        Step("open", {gripper: reach.description.limits[gripper].lower}),
        Step("pre-grasp", pre_grasp),
        Step("descend", at_object),
        Step("close", {}, grasp_force=force),
        Step("lift", pre_grasp),
    ]


def plan_grasp(reach: ArmReach, side: str | None, point: Sequence[float], current: Mapping[str, float],
               force: float) -> tuple[str, list[Step]]:
    """The arm and steps for a grasp at ``point``. With no side asked for, the arm on the
    object's side of the body (base_link y > 0 is the left) is tried first, then the other."""
    if side:
        return side, grasp_steps(reach, side, point, current, force)
    nearer = "l" if point[1] >= 0.0 else "r"
    failures = []
    for candidate in (nearer, "r" if nearer == "l" else "l"):
        try:
            return candidate, grasp_steps(reach, candidate, point, current, force)
        except ReachError as exc:
            failures.append(str(exc))
    raise ReachError("; ".join(failures))


def run_steps(controller: ServoController, side: str, steps: Sequence[Step],
              wait: Callable[[Step, CommandHandle], None]) -> CommandHandle:
    """Issue the steps one by one; stop at the first that does not succeed.

    ``wait`` blocks until a handle is done (the node waits on real time and forwards cancels;
    tests step a simulated clock). Returns the grasp's handle (its result says whether and how
    hard the object is held), or the handle of the step that failed.
    """
    for step in steps:   # refuse a bad force before the arm moves at all
        if step.grasp_force is not None:
            controller.check_grasp(side, step.grasp_force)
    grasp_handle: CommandHandle | None = None
    for step in steps:
        if step.grasp_force is not None:
            handle = grasp_handle = controller.grasp(side, step.grasp_force)
        else:
            handle = controller.move(step.targets)
        wait(step, handle)
        if handle.state is not CommandState.SUCCEEDED:
            handle.message = f"{step.name}: {handle.message}"
            return handle
        if grasp_handle is handle and not handle.result.get("grasped"):
            return handle   # closed on nothing: do not lift an empty hand
    assert grasp_handle is not None, "a grasp sequence has a close step"
    return grasp_handle


class Detected(Protocol):
    """A detection as perception reports it (perception.scene.SeenObject, a decoded Detection2D)."""

    @property
    def object_id(self) -> int | None: ...
    @property
    def label(self) -> str: ...
    @property
    def position(self) -> Sequence[float] | None: ...


@dataclass(frozen=True)
class SeenObject:
    object_id: int
    label: str
    position: tuple[float, float, float]   # base_link, m
    seen_at: float                         # monotonic seconds


class KnownObjects:
    """The last position perception reported for each object id (thread-safe)."""

    def __init__(self, max_age_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._objects: dict[int, SeenObject] = {}
        self._lock = threading.Lock()

    def update(self, object_id: int, label: str, position: Sequence[float]) -> None:
        with self._lock:
            self._objects[object_id] = SeenObject(object_id, label, (float(position[0]), float(position[1]),
                                                                     float(position[2])), self._clock())

    def remember(self, detections: Iterable[Detected]) -> None:
        """Perception's detections: those it tracked (an id) and placed (a position) are remembered."""
        for detection in detections:
            if detection.object_id is not None and detection.position is not None:
                self.update(detection.object_id, detection.label, detection.position)

    def resolve(self, object_id: int) -> SeenObject:
        with self._lock:
            seen = self._objects.get(object_id)
            known = sorted(i for i, o in self._objects.items() if self._clock() - o.seen_at <= self.max_age_s)
        if seen is None:
            raise EmbodiedError(f"object {object_id} has not been seen by perception"
                                f"{'; known ids: ' + ', '.join(map(str, known)) if known else ' (no detections yet)'}",
                                ErrorCode.HARDWARE_ERROR)
        age = self._clock() - seen.seen_at
        if age > self.max_age_s:
            raise EmbodiedError(f"object {object_id} was last seen {age:.1f} s ago; look at it again first",
                                ErrorCode.HARDWARE_ERROR)
        return seen


@dataclass(frozen=True)
class ObjectGraspPlan:
    object_id: int
    seen: SeenObject
    side: str
    steps: list[Step]


def plan_object_grasp(reach: ArmReach, known: KnownObjects, object_id: int, side: str | None,
                      current: Mapping[str, float], force: float) -> ObjectGraspPlan:
    """The arm and steps to grasp the object perception knows by ``object_id``; EmbodiedError
    (naming the object) when it is unknown, stale or out of reach."""
    try:
        seen = known.resolve(object_id)
        side, steps = plan_grasp(reach, side, seen.position, current, force)
    except EmbodiedError as exc:
        raise EmbodiedError(f"grasp object {object_id}: {exc}", exc.code) from exc
    return ObjectGraspPlan(object_id, seen, side, steps)


def run_object_grasp(controller: ServoController, plan: ObjectGraspPlan,
                     wait: Callable[[Step, CommandHandle], None]) -> CommandHandle:
    """Run the plan (``run_steps``); the handle's message then says which object, where, and,
    on the simulated robot, which of its objects is now in the gripper."""
    try:
        handle = run_steps(controller, plan.side, plan.steps, wait)
    except EmbodiedError as exc:   # a step refused up front (e-stop, limits, force over the cap)
        raise EmbodiedError(f"grasp object {plan.object_id}: {exc}", exc.code) from exc
    x, y, _ = plan.seen.position
    held = held_object_name(controller.hardware, plan.side)
    handle.message = (f"object {plan.object_id} ({plan.seen.label} at {x:.2f}, {y:.2f} m): {handle.message}"
                      + (f"; the simulator's '{held}' is in the {plan.side} gripper" if held else ""))
    return handle


def held_object_name(hardware: RobotHardware, side: str) -> str | None:
    """The simulated object between a gripper's fingers; None on real hardware (it cannot tell)."""
    held = hardware.held_object(side) if isinstance(hardware, SimulatedRobot) else None
    return held.name if held is not None else None
