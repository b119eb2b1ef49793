"""The servo controller core: the safety contract between every caller and the hardware.

``ServoController.tick()`` is the control loop body: read the hardware, fold faults in,
advance the active command, pass the setpoints through the gate, write the bus. The public
methods (move, stream, grasp, cancel, emergency_stop, ...) are called from other threads
(ROS callbacks) and validate everything before the loop ever sees it. Every tuning value
(tolerances, timeouts, the grasp back-off) comes from the safety config, launch/safety.yaml.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from embodied_ai.control.commands import (
    Command,
    CommandHandle,
    CommandState,
    GraspCommand,
    MoveCommand,
    StopCommand,
    StreamCommand,
)
from embodied_ai.control.profile import MinJerkTrajectory, StopRamp, track_toward
from embodied_ai.errors import ErrorCode, SafetyViolation
from embodied_ai.hardware.base import HardwareSnapshot, ImuReading, RobotHardware
from embodied_ai.robot.description import GRIPPER_JOINTS, RobotDescription
from embodied_ai.safety.config import SafetyConfig
from embodied_ai.safety.estop import EmergencyStop
from embodied_ai.safety.gate import SetpointGate
from embodied_ai.safety.limits import minimum_duration, validate_duration, validate_targets
from embodied_ai.safety.monitor import FaultMonitor
from embodied_ai.safety.watchdog import Watchdog


@dataclass(frozen=True)
class ControllerStatus:
    """One cycle's state, for publishers (joint_states, hardware state, diagnostics)."""

    stamp: float
    positions: dict[str, float]
    velocities: dict[str, float]
    efforts: dict[str, float]
    temperatures: dict[str, float]
    forces: dict[str, float]
    imu: ImuReading | None
    emergency_stop: bool
    emergency_stop_reason: str
    joint_faults: dict[str, str]
    warnings: dict[str, str]
    events: list[str] = field(default_factory=list)


class ServoController:
    def __init__(
        self,
        description: RobotDescription,
        hardware: RobotHardware,
        safety: SafetyConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.hardware = hardware
        self.safety = safety
        self._clock = clock
        self._lock = threading.RLock()
        self._estop = EmergencyStop()
        self._monitor = FaultMonitor(safety.temperature)
        self._gate = SetpointGate(description, safety.step_tolerance)
        self._watchdog = Watchdog(safety.watchdog_timeout_s, clock)
        self._command: Command | None = None
        self._setpoint: dict[str, float] = {}
        self._setpoint_velocity: dict[str, float] = {}
        self._snapshot: HardwareSnapshot | None = None
        self._positions: dict[str, float] = {}
        self._last_tick: float | None = None
        self._events: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------
    def activate(self) -> None:
        """Enable torque and hold the current pose."""
        with self._lock:
            snapshot = self.hardware.read()
            self._snapshot = snapshot
            self._positions = {j: r.position for j, r in snapshot.joints.items()}
            self._setpoint = dict(self._positions)
            self._setpoint_velocity = dict.fromkeys(self._setpoint, 0.0)
            self._gate.reset(self._setpoint)
            self.hardware.set_torque(True)
            self._last_tick = self._clock()

    def deactivate(self) -> None:
        """Stop any command and hold; torque stays on (a lifecycle deactivate must not drop an arm)."""
        with self._lock:
            self._abort_command("controller deactivated", ErrorCode.HARDWARE_ERROR)

    # -- requests (any thread) ----------------------------------------------------------
    def move(
        self, targets: Mapping[str, float], duration: float | None = None, relative: bool = False
    ) -> CommandHandle:
        """Start a synchronised minimum-jerk move; raises SafetyViolation with the reason."""
        with self._lock:
            self._check_can_move(targets)
            if unknown := [j for j in targets if j not in self._setpoint]:
                raise SafetyViolation(f"unknown joint '{unknown[0]}'")  # before reading its setpoint
            start = {j: self._setpoint[j] for j in targets}
            goal = {j: start[j] + v for j, v in targets.items()} if relative else dict(targets)
            validate_targets(self.description, goal)
            if duration is None or duration == 0:
                duration = minimum_duration(
                    self.description, start, goal, self.safety.default_velocity_scale, self.safety.min_duration_s
                )
            validate_duration(
                self.description, start, goal, duration, self.safety.min_duration_s, self.safety.max_duration_s
            )
            handle = CommandHandle("move", tuple(goal))
            self._replace_command(MoveCommand(handle, MinJerkTrajectory(start, goal, duration), self._clock()))
            return handle

    def stream(self, targets: Mapping[str, float]) -> CommandHandle:
        """Set streamed targets; the joints track them until the watchdog expires."""
        with self._lock:
            self._check_can_move(targets)
            validate_targets(self.description, targets)
            self._watchdog.kick()
            if isinstance(self._command, StreamCommand):
                self._command.targets.update(targets)
                return self._command.handle
            handle = CommandHandle("stream", tuple(self.description.joint_names))
            self._replace_command(StreamCommand(handle, dict(targets)))
            return handle

    def check_grasp(self, side: str, force: float) -> str:
        """Raise SafetyViolation if ``grasp(side, force)`` would be refused now; returns the gripper joint.

        Lets a caller that moves the arm first (grasp by object id) refuse before any motion.
        """
        with self._lock:
            if side not in GRIPPER_JOINTS:
                raise SafetyViolation(f"unknown gripper side '{side}'; use 'l' or 'r'")
            joint = GRIPPER_JOINTS[side]
            self._check_can_move({joint: 0.0})
            cap = self.safety.grasp.max_force_n
            if not isinstance(force, (int, float)) or not math.isfinite(force) or force <= 0:
                raise SafetyViolation(f"grasp force {force!r} N must be a positive finite number")
            if force > cap:
                raise SafetyViolation(f"grasp force {force:.1f} N exceeds the cap of {cap:.1f} N")
            return joint

    def grasp(self, side: str, force: float) -> CommandHandle:
        """Close a gripper until ``force`` newtons is sensed, the gripper is closed, or timeout."""
        with self._lock:
            joint = self.check_grasp(side, force)
            handle = CommandHandle("grasp", (joint,))
            self._replace_command(
                GraspCommand(handle, joint, f"gripper_{side}", force, self._clock(), self.safety.grasp.timeout_s)
            )
            return handle

    def cancel(self, handle: CommandHandle) -> None:
        """Decelerate the command's joints to rest; the handle ends CANCELED once still."""
        with self._lock:
            if self._command is None or getattr(self._command, "handle", None) is not handle:
                return
            handle.state = CommandState.CANCELING
            self._start_stop(handle, CommandState.CANCELED, "canceled")

    def emergency_stop(self, reason: str = "emergency stop requested") -> bool:
        """Latch the e-stop, end the active command and hold the measured pose."""
        with self._lock:
            first = self._estop.trigger(reason)
            if first:
                self._events.append(f"emergency stop: {reason}")
            self._abort_command(f"emergency stop: {self._estop.reason}", ErrorCode.SAFETY_VIOLATION)
            self._hold_measured()
            return first

    def reset_emergency_stop(self) -> tuple[bool, str]:
        """Release the latch and clear latched bus faults; over-temperature clears by cooling."""
        with self._lock:
            was_latched = self._estop.reset()
            self._monitor.reset_bus_faults()
            self._hold_measured()
            remaining = self._monitor.faults
            message = "emergency stop reset" if was_latched else "emergency stop was not latched"
            if remaining:
                message += "; joints still faulted: " + ", ".join(f"{j} ({r})" for j, r in remaining.items())
            self._events.append(message)
            return was_latched, message

    @property
    def emergency_stopped(self) -> bool:
        return self._estop.latched

    @property
    def positions(self) -> dict[str, float]:
        """Measured joint positions as of the last cycle."""
        with self._lock:
            return dict(self._positions)

    @property
    def setpoints(self) -> dict[str, float]:
        with self._lock:
            return dict(self._setpoint)

    # -- the loop body ------------------------------------------------------------------
    def tick(self) -> ControllerStatus:
        with self._lock:
            now = self._clock()
            dt = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick)
            self._last_tick = now
            snapshot = self.hardware.read()
            self._snapshot = snapshot
            self._positions.update({j: r.position for j, r in snapshot.joints.items()})
            for joint in self._monitor.update(snapshot):
                reason = self._monitor.faults[joint]
                self._events.append(f"{joint}: {reason}")
                self._on_joint_fault(joint, reason)

            if not self._estop.latched:
                self._advance_command(now, dt, snapshot)

            # Faulted joints hold still wherever the command left them.
            for joint in self._monitor.faults:
                self._setpoint_velocity[joint] = 0.0
            writable = {j: v for j, v in self._setpoint.items() if j not in snapshot.faults}
            try:
                self._gate.check(writable, dt)
            except SafetyViolation as exc:
                # A planning bug must never reach the bus: refuse, latch the e-stop, hold.
                self.emergency_stop(f"setpoint gate: {exc}")
                writable = {j: v for j, v in self._setpoint.items() if j not in snapshot.faults}
                self._gate.reset(writable)
            write_faults = self.hardware.write_positions(writable)
            for joint, fault in write_faults.items():
                self._events.append(f"{joint}: write failed ({fault.value})")
            return self._status(snapshot)

    # -- internals ----------------------------------------------------------------------
    def _check_can_move(self, targets: Mapping[str, float]) -> None:
        self._estop.check()
        if not self._setpoint:
            raise SafetyViolation("controller is not active")
        faulted = {j: r for j, r in self._monitor.faults.items() if j in targets}
        if faulted:
            raise SafetyViolation(
                "joints are stopped by a fault: " + ", ".join(f"{j} ({r})" for j, r in faulted.items())
            )

    def _replace_command(self, command: MoveCommand | StreamCommand | GraspCommand) -> None:
        previous = self._command
        if previous is not None and previous.handle is not None:
            previous.handle.finish(CommandState.ABORTED, f"preempted by a new {command.handle.kind} command")
        if not isinstance(command, StreamCommand):
            self._watchdog.disarm()
        self._command = command

    def _abort_command(self, reason: str, code: ErrorCode) -> None:
        command, self._command = self._command, None
        self._watchdog.disarm()
        if command is not None and command.handle is not None:
            command.handle.finish(CommandState.ABORTED, reason, code)
        self._setpoint_velocity = dict.fromkeys(self._setpoint, 0.0)

    def _hold_measured(self) -> None:
        """Hold where the joints are now (the setpoint may be ahead of a lagging servo)."""
        for joint, position in self._positions.items():
            limits = self.description.limits[joint]
            self._setpoint[joint] = min(max(position, limits.lower), limits.upper)
        self._setpoint_velocity = dict.fromkeys(self._setpoint, 0.0)
        self._gate.reset(self._setpoint)

    def _on_joint_fault(self, joint: str, reason: str) -> None:
        command = self._command
        if command is not None and command.handle is not None and joint in command.handle.joints:
            handle = command.handle
            handle.finish(CommandState.ABORTED, f"{joint}: {reason}", ErrorCode.SAFETY_VIOLATION)
            self._start_stop(None, CommandState.ABORTED, f"{joint}: {reason}")

    def _start_stop(self, handle: CommandHandle | None, final: CommandState, reason: str) -> None:
        ramp = StopRamp(
            start=dict(self._setpoint),
            velocity={j: v for j, v in self._setpoint_velocity.items() if j not in self._monitor.faults},
            deceleration=self.safety.max_deceleration_rad_s2,
        )
        self._watchdog.disarm()
        self._command = StopCommand(handle, ramp, self._clock(), final, reason)

    def _advance_command(self, now: float, dt: float, snapshot: HardwareSnapshot) -> None:
        command = self._command
        if command is None:
            return
        if isinstance(command, MoveCommand):
            t = now - command.started
            positions, velocities = command.trajectory.sample(t)
            self._apply(positions, velocities)
            command.handle.progress = min(1.0, t / command.trajectory.duration)
            if command.trajectory.finished(t):
                tolerances = self.safety.control
                arrived = all(abs(self._positions.get(j, g) - g) <= tolerances.arrival_tolerance_rad
                              for j, g in command.trajectory.goal.items())
                if arrived or t > command.trajectory.duration + tolerances.settle_timeout_s:
                    command.handle.result = {j: self._positions.get(j, g) for j, g in command.trajectory.goal.items()}
                    command.handle.finish(CommandState.SUCCEEDED, "reached goal" if arrived else "goal time elapsed")
                    self._command = None
        elif isinstance(command, StopCommand):
            t = now - command.started
            positions, velocities = command.ramp.sample(t)
            self._apply(positions, velocities)
            if command.ramp.finished(t):
                if command.handle is not None:
                    command.handle.result = {j: self._positions.get(j, 0.0) for j in command.handle.joints}
                    command.handle.finish(command.final_state, command.reason)
                self._command = None
        elif isinstance(command, StreamCommand):
            if self._watchdog.expired():
                reason = f"command stream silent for more than {self._watchdog.timeout_s:.2f} s (watchdog)"
                self._events.append(reason)
                command.handle.finish(CommandState.ABORTED, reason, ErrorCode.SAFETY_VIOLATION)
                self._start_stop(None, CommandState.ABORTED, reason)
                return
            for joint, target in command.targets.items():
                limit = self.description.limits[joint].velocity * self.safety.default_velocity_scale
                position, velocity = track_toward(
                    self._setpoint[joint], self._setpoint_velocity.get(joint, 0.0), target,
                    limit, self.safety.max_deceleration_rad_s2, min(dt, self.safety.control.max_tracking_step_s),
                )
                self._apply({joint: position}, {joint: velocity})
        elif isinstance(command, GraspCommand):
            self._advance_grasp(command, now, dt, snapshot)

    def _advance_grasp(self, command: GraspCommand, now: float, dt: float, snapshot: HardwareSnapshot) -> None:
        handle = command.handle
        force = snapshot.forces.get(command.sensor, 0.0)
        elapsed = now - command.started
        handle.result = {"force_applied": force, "time_ms": elapsed * 1000.0}
        handle.progress = min(1.0, force / command.target_force)
        limits = self.description.limits[command.joint]
        cap, backoff = self.safety.grasp.max_force_n, self.safety.grasp.backoff_rad
        closed = abs(self._positions[command.joint] - limits.upper) < self.safety.control.arrival_tolerance_rad
        if force > cap:
            # Back off a little and stop: the object (or the fingers) must not be crushed. The
            # back-off is a move within the velocity limit: a jump would trip the setpoint gate.
            start = {command.joint: self._setpoint[command.joint]}
            goal = {command.joint: max(limits.lower, start[command.joint] - backoff)}
            duration = minimum_duration(self.description, start, goal, self.safety.default_velocity_scale,
                                        self.safety.min_duration_s)
            handle.result["grasped"] = 1.0
            handle.finish(CommandState.SUCCEEDED, f"force {force:.1f} N over the cap {cap:.1f} N; backed off")
            self._setpoint_velocity[command.joint] = 0.0
            self._command = MoveCommand(CommandHandle("back-off", (command.joint,)),
                                        MinJerkTrajectory(start, goal, duration), now)
        elif force >= command.target_force:
            self._apply({command.joint: self._setpoint[command.joint]}, {command.joint: 0.0})
            handle.result["grasped"] = 1.0
            handle.finish(CommandState.SUCCEEDED, f"grasped with {force:.1f} N")
            self._command = None
        elif self._setpoint[command.joint] >= limits.upper and closed:
            handle.result["grasped"] = 0.0
            handle.finish(CommandState.SUCCEEDED, "gripper closed without reaching the force: nothing grasped")
            self._command = None
        elif elapsed > command.timeout_s:
            handle.result["grasped"] = 0.0
            self._apply({command.joint: self._setpoint[command.joint]}, {command.joint: 0.0})
            handle.finish(CommandState.ABORTED, f"grasp timed out after {command.timeout_s:.1f} s at {force:.1f} N",
                          ErrorCode.TIMEOUT)
            self._command = None
        else:
            speed = self.safety.grasp.closing_velocity_rad_s
            self._apply({command.joint: min(limits.upper, self._setpoint[command.joint] + speed * dt)},
                        {command.joint: speed})

    def _apply(self, positions: Mapping[str, float], velocities: Mapping[str, float]) -> None:
        for joint, value in positions.items():
            if joint in self._monitor.faults:
                continue
            limits = self.description.limits[joint]
            # Goals were validated; this only stops a deceleration ramp at a limit it would coast past.
            self._setpoint[joint] = min(max(value, limits.lower), limits.upper)
            self._setpoint_velocity[joint] = velocities.get(joint, 0.0)

    def _status(self, snapshot: HardwareSnapshot) -> ControllerStatus:
        joints = self.description.joint_names
        readings = snapshot.joints
        events, self._events = self._events, []
        return ControllerStatus(
            stamp=snapshot.stamp,
            positions=dict(self._positions),
            velocities={j: readings[j].velocity if j in readings else 0.0 for j in joints},
            efforts={j: readings[j].effort if j in readings else 0.0 for j in joints},
            temperatures={j: readings[j].temperature for j in joints if j in readings},
            forces=dict(snapshot.forces),
            imu=snapshot.imu,
            emergency_stop=self._estop.latched,
            emergency_stop_reason=self._estop.reason,
            joint_faults=self._monitor.faults,
            warnings=self._monitor.warnings(snapshot),
            events=events,
        )
