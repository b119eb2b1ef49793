"""The simulated robot: a RobotHardware back end with plausible physics.

- Servos: first-order tracking of the goal position (time constant ``servo_tau_s``) within the
  URDF velocity limit, as a position-controlled hobby/Dynamixel servo behaves.
- Grippers: the fingers stop at an object's surface; a position-controlled servo pushing past
  the contact point produces a force proportional to the position error (stiffness), so force
  rises as the goal keeps closing.
- Motor temperatures: heat with the square of the load (velocity and effort), cool toward
  ambient with a thermal time constant.
- IMU: a still torso (gravity on z) with small noise.
- Fault injection: ``inject_fault`` makes a joint time out, return CRC errors, report a device
  error, or heat up, so every safety rule can be exercised without hardware.
- A tabletop: objects with a shape, a colour and a pose on a table (what the cameras render).
  When an open gripper starts closing with its fingers at a table object, that object is
  seated between the fingers (force then rises on contact). There is no collision model: an
  object already between those fingers is set down where the new one stood.

Physics advances in ``read()`` up to the clock's time, in sub-steps, so the loop rate does not
change the dynamics.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from embodied_ai.hardware.base import BusFault, HardwareSnapshot, ImuReading, JointReading, RobotHardware
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES, GRIPPER_JOINTS, RobotDescription
from embodied_ai.robot.kinematics import Kinematics

GRAVITY = 9.80665


SHAPES = ("cube", "ball", "can")

# (object id, holder "l"/"r" or "" on the table, table x, y in base_link or None): what the
# simulator tells the cameras on sim/objects.
ObjectState = tuple[int, str, tuple[float, float] | None]


@dataclass
class SimObject:
    """An object the simulation knows about. ``in_gripper`` places it between a gripper's fingers;
    otherwise ``table_xy`` places it on the table (its base on the table top)."""

    object_id: int
    name: str
    width_m: float
    in_gripper: str | None = None  # "l", "r" or None
    shape: str = "cube"            # one of SHAPES: what the cameras draw
    colour_bgr: tuple[int, int, int] = (40, 40, 200)
    height_m: float | None = None  # defaults to width_m
    table_xy: tuple[float, float] | None = None  # base_link x, y on the table top (m)
    yaw: float = 0.0               # rad about the table normal

    @property
    def height(self) -> float:
        return self.width_m if self.height_m is None else self.height_m


@dataclass(frozen=True)
class SimTable:
    """A table in front of the robot: a horizontal top at ``top_z_m`` in base_link."""

    top_z_m: float = 0.30
    x_range_m: tuple[float, float] = (0.22, 0.62)
    y_range_m: tuple[float, float] = (-0.40, 0.40)
    colour_bgr: tuple[int, int, int] = (70, 110, 150)

    def object_centre(self, obj: SimObject) -> np.ndarray | None:
        """Where a table object's centre is in base_link; None for an object held by a gripper."""
        if obj.table_xy is None or obj.in_gripper is not None:
            return None
        return np.array([obj.table_xy[0], obj.table_xy[1], self.top_z_m + obj.height / 2])


@dataclass(frozen=True)
class SimParameters:
    servo_tau_s: float = 0.05           # first-order time constant of the position loop
    max_substep_s: float = 0.002
    finger_length_m: float = 0.05       # gripper angle -> finger gap: gap = open_gap - 2 L sin(angle)
    open_gap_m: float = 0.09
    contact_stiffness_n_per_rad: float = 60.0
    ambient_c: float = 25.0
    heat_c_per_s: float = 0.6           # heating rate at full load (effort at the URDF limit)
    thermal_tau_s: float = 120.0
    imu_noise: float = 0.01
    seat_tolerance_m: float = 0.04      # fingers this close to a table object's centre close on it


class SimulatedRobot(RobotHardware):
    kind = "sim"

    def __init__(
        self,
        description: RobotDescription,
        objects: Sequence[SimObject] = (),
        parameters: SimParameters = SimParameters(),
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        table: SimTable | None = None,
        initial_positions: Mapping[str, float] | None = None,
    ) -> None:
        self._description = description
        self._params = parameters
        self._clock = clock
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.objects = list(objects)
        self.table = table or SimTable()
        self._kinematics = Kinematics(description.urdf)
        names = description.joint_names
        # Start at 0 rad (or the configured pose) clipped into the limits (a "ready" pose).
        start = dict(initial_positions or {})
        self._position = {j: min(max(float(start.get(j, 0.0)), lim.lower), lim.upper)
                          for j, lim in description.limits.items()}
        self._velocity = dict.fromkeys(names, 0.0)
        self._effort = dict.fromkeys(names, 0.0)
        self._temperature = dict.fromkeys(names, parameters.ambient_c)
        self._goal = dict(self._position)
        self._torque = False
        self._open = False
        self._last_time: float | None = None
        self._faults: dict[str, BusFault] = {}

    # -- RobotHardware ------------------------------------------------------------------
    @property
    def joint_names(self) -> Sequence[str]:
        return self._description.joint_names

    def open(self) -> None:
        with self._lock:
            self._open = True
            self._last_time = self._clock()

    def close(self) -> None:
        with self._lock:
            self._open = False
            self._torque = False

    def set_torque(self, enabled: bool) -> None:
        with self._lock:
            self._torque = enabled
            if enabled:
                self._goal = dict(self._position)

    def read(self) -> HardwareSnapshot:
        with self._lock:
            now = self._clock()
            self._advance(now)
            readings = {
                j: JointReading(self._position[j], self._velocity[j], self._effort[j], self._temperature[j])
                for j in self._description.joint_names
                if j not in self._faults
            }
            forces = {f"gripper_{side}": self._gripper_force(side) for side in GRIPPER_JOINTS}
            return HardwareSnapshot(
                stamp=now,
                joints=readings,
                forces=forces,
                imu=self._imu(),
                faults=dict(self._faults),
                fault_details={j: f"injected {f.value}" for j, f in self._faults.items()},
            )

    def write_positions(self, targets: Mapping[str, float]) -> Mapping[str, BusFault]:
        with self._lock:
            failed = {j: self._faults[j] for j in targets if j in self._faults}
            for side, gripper in GRIPPER_JOINTS.items():
                closing = gripper in targets and gripper not in failed and float(targets[gripper]) > self._goal[gripper]
                if closing and self._gripper_force(side) == 0.0:
                    self._seat_table_object(side)
            for joint, value in targets.items():
                if joint not in failed:
                    self._goal[joint] = float(value)
            return failed

    # -- simulation controls ------------------------------------------------------------
    def inject_fault(self, joint: str, fault: str) -> None:
        """Fault injection hook: 'timeout', 'crc_error', 'device_error', 'overheat' or 'clear'."""
        self._description.joint(joint)
        with self._lock:
            if fault == "clear":
                self._faults.pop(joint, None)
            elif fault == "overheat":
                self._temperature[joint] = 90.0
            else:
                self._faults[joint] = BusFault(fault)

    def place_object(self, obj: SimObject) -> None:
        with self._lock:
            self.objects = [o for o in self.objects if o.object_id != obj.object_id] + [obj]

    def object_states(self) -> list[ObjectState]:
        """(id, holder "l"/"r"/"", table x, y or None) for every object, as of now."""
        with self._lock:
            return [(o.object_id, o.in_gripper or "", o.table_xy) for o in self.objects]

    def held_object(self, side: str) -> SimObject | None:
        """The object between a gripper's fingers ("l" or "r"), if any."""
        with self._lock:
            return self._held_object(side)

    def grasp_point(self, side: str) -> np.ndarray:
        """Where the fingers of a gripper meet (its force-sensor frame), in base_link."""
        with self._lock:
            return self._grasp_point(side)

    @property
    def kinematics(self) -> Kinematics:
        return self._kinematics

    @property
    def positions(self) -> dict[str, float]:
        """Measured joint positions (what the cameras and the renderer need)."""
        with self._lock:
            return dict(self._position)

    @property
    def goals(self) -> dict[str, float]:
        """Goal positions as last written (what reached the simulated bus)."""
        with self._lock:
            return dict(self._goal)

    # -- physics ------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        if self._last_time is None:
            self._last_time = now
        elapsed = max(0.0, now - self._last_time)
        self._last_time = now
        steps = max(1, math.ceil(elapsed / self._params.max_substep_s))
        dt = elapsed / steps
        for _ in range(steps):
            self._step(dt)

    def _step(self, dt: float) -> None:
        if dt <= 0:
            return
        p = self._params
        for joint, limits in self._description.limits.items():
            position = self._position[joint]
            if self._torque and joint not in self._faults:
                velocity = (self._goal[joint] - position) / p.servo_tau_s
                velocity = min(max(velocity, -limits.velocity), limits.velocity)
            else:
                velocity = 0.0
            new_position = min(max(position + velocity * dt, limits.lower), limits.upper)
            side = _gripper_side(joint)
            if side is not None:
                new_position = min(new_position, self._contact_angle(side))
            self._velocity[joint] = (new_position - position) / dt
            self._position[joint] = new_position
            load = 0.3 * abs(self._velocity[joint]) / limits.velocity
            if side is not None:
                self._effort[joint] = self._gripper_force(side) * p.finger_length_m
            else:
                # Holding an arm against gravity costs a fraction of the rated effort.
                self._effort[joint] = 0.15 * limits.effort * math.cos(new_position) if "shoulder" in joint else 0.0
            load += abs(self._effort[joint]) / limits.effort
            temperature = self._temperature[joint]
            self._temperature[joint] = temperature + dt * (
                p.heat_c_per_s * load * load - (temperature - p.ambient_c) / p.thermal_tau_s
            )

    def _held_object(self, side: str) -> SimObject | None:
        return next((o for o in self.objects if o.in_gripper == side), None)

    def _grasp_point(self, side: str) -> np.ndarray:
        return self._kinematics.link_position(FORCE_SENSOR_FRAMES[f"gripper_{side}"], self._position)

    def _seat_table_object(self, side: str) -> None:
        """An open gripper closing at a table object: that object is now between its fingers."""
        fingers = self._grasp_point(side)
        candidates = [(float(np.linalg.norm(centre - fingers)), o) for o in self.objects
                      if (centre := self.table.object_centre(o)) is not None]
        near = [c for c in candidates if c[0] <= self._params.seat_tolerance_m]
        if not near:
            return
        _, target = min(near, key=lambda c: c[0])
        previous = self._held_object(side)
        if previous is not None:
            previous.in_gripper, previous.table_xy = None, target.table_xy
        target.in_gripper, target.table_xy = side, None

    def _contact_angle(self, side: str) -> float:
        """Gripper angle at which the fingers touch the held object (or the closed limit)."""
        closed = self._description.limits[GRIPPER_JOINTS[side]].upper
        obj = self._held_object(side)
        if obj is None:
            return closed
        ratio = (self._params.open_gap_m - obj.width_m) / (2 * self._params.finger_length_m)
        return min(closed, math.asin(min(max(ratio, 0.0), 1.0)))

    def _gripper_force(self, side: str) -> float:
        joint = GRIPPER_JOINTS[side]
        if not self._torque or self._held_object(side) is None:
            return 0.0
        squeeze = self._goal[joint] - self._contact_angle(side)
        limit_force = self._description.limits[joint].effort / self._params.finger_length_m
        return min(max(0.0, squeeze * self._params.contact_stiffness_n_per_rad), limit_force)

    def _imu(self) -> ImuReading:
        noise = self._rng.normal(0.0, self._params.imu_noise, 6)
        return ImuReading(
            orientation=(0.0, 0.0, 0.0, 1.0),
            angular_velocity=(float(noise[0]), float(noise[1]), float(noise[2])),
            linear_acceleration=(float(noise[3]), float(noise[4]), GRAVITY + float(noise[5])),
        )


def _gripper_side(joint: str) -> str | None:
    for side, name in GRIPPER_JOINTS.items():
        if joint == name:
            return side
    return None


class ObjectStateChanges:
    """The simulator's object states whenever they changed (a grasp took one, a release put it
    down): sim/objects is latched and published only then."""

    def __init__(self, robot: SimulatedRobot) -> None:
        self.robot = robot
        self._last: list[ObjectState] | None = None

    def poll(self) -> list[ObjectState] | None:
        """The states if they differ from those the last call returned, else None."""
        states = self.robot.object_states()
        if states == self._last:
            return None
        self._last = states
        return states
