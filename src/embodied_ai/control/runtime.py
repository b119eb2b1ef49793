"""What the servo controller node runs between configure and cleanup, without ROS.

``ControllerRuntime.open`` is the lifecycle's configure (the URDF, the safety config, the
hardware back end, opened); ``activate`` starts the control loop on its own thread and
``deactivate`` stops it, holding the pose; ``close`` releases the hardware. Its other methods
are the node's services and actions: each returns what the reply says or raises
EmbodiedError with the code and reason the reply carries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from embodied_ai.control.commands import CommandHandle
from embodied_ai.control.config import ServoControllerConfig
from embodied_ai.control.controller import ServoController
from embodied_ai.control.loop import ControlLoop, Tick, make_realtime
from embodied_ai.control.reach import ArmReach, KnownObjects, plan_object_grasp, run_object_grasp
from embodied_ai.control.requests import GraspOutcome, follow, grasp_feedback, joint_targets, measured
from embodied_ai.errors import SafetyViolation
from embodied_ai.hardware.factory import create_hardware, load_hardware_config
from embodied_ai.hardware.sim import ObjectState, ObjectStateChanges, SimulatedRobot
from embodied_ai.robot import load_robot_description
from embodied_ai.safety import load_safety_config

Stamp = TypeVar("Stamp")
CancelRequested = Callable[[], bool]
STOP_LOOP_TIMEOUT_S = 2.0   # a loop tick takes milliseconds; longer means a stuck bus, and the node goes on


def _run(body: Callable[[], None]) -> None:
    body()


class ControllerRuntime:
    def __init__(self, controller: ServoController, known_objects: KnownObjects, rate_hz: float,
                 reach: ArmReach | None = None, realtime_priority: int = 0, loop_cpu: int = -1) -> None:
        self.controller = controller
        self.known_objects = known_objects
        self.rate_hz = rate_hz
        self.realtime_priority, self.loop_cpu = realtime_priority, loop_cpu
        self.reach = reach or ArmReach(controller.description)
        hardware = controller.hardware
        self.sim = hardware if isinstance(hardware, SimulatedRobot) else None
        self._object_changes = ObjectStateChanges(self.sim) if self.sim is not None else None
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self.active = False

    @classmethod
    def open(cls, config: ServoControllerConfig, known_objects: KnownObjects) -> "ControllerRuntime":
        """Load the robot description and safety config, and open the hardware (ValueError,
        OSError or EmbodiedError when any of them is missing or wrong)."""
        description = load_robot_description(config.robot_description_file)
        safety = load_safety_config(config.safety_config_file or None)
        hardware = create_hardware(config.hardware, description, load_hardware_config(config.hardware_config_file))
        hardware.open()
        return cls(ServoController(description, hardware, safety), known_objects, config.rate_hz,
                   realtime_priority=config.realtime_priority, loop_cpu=config.loop_cpu)

    def describe(self) -> str:
        return (f"{len(self.controller.description.joint_names)} joints, hardware '{self.controller.hardware.kind}', "
                f"loop {self.rate_hz:.0f} Hz")

    # -- lifecycle ----------------------------------------------------------------------
    def activate(self, now: Callable[[], Stamp], publish: Callable[[Tick[Stamp]], None],
                 running: Callable[[], bool] = lambda: True,
                 guard: Callable[[Callable[[], None]], None] = _run,
                 log: Callable[[str], None] = lambda _line: None) -> None:
        """Torque on, holding the pose; then the loop on its own thread, which first takes its
        real-time class and core (``log`` says what Linux permitted); ``guard`` runs the thread's
        body (the node's, to end the process when the loop fails)."""
        self.controller.activate()
        loop = ControlLoop(self.controller, self.rate_hz, now)
        self._stop.clear()

        def body() -> None:
            for line in make_realtime(self.realtime_priority, self.loop_cpu):
                log(line)
            loop.run(self._stop, running, publish)
        self._loop = threading.Thread(target=guard, args=(body,), name="control_loop", daemon=True)
        self._loop.start()
        self.active = True

    def deactivate(self) -> None:
        """Stop the loop; any command ends and the servos hold their last goal (torque stays on)."""
        self.active = False
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout=STOP_LOOP_TIMEOUT_S)
            self._loop = None
        self.controller.deactivate()

    def close(self) -> None:
        self.deactivate()
        self.controller.hardware.close()

    # -- services and streaming ---------------------------------------------------------
    def emergency_stop(self) -> str:
        first = self.controller.emergency_stop("emergency_stop service called")
        return "emergency stop latched" if first else "emergency stop was already latched"

    def reset_emergency_stop(self) -> str:
        return self.controller.reset_emergency_stop()[1]

    def inject_fault(self, joint: str, fault: str) -> str:
        if self.sim is None:
            raise ValueError("faults can be injected into the simulated robot only")
        self.sim.inject_fault(joint, fault)
        return f"injected '{fault}' on {joint}"

    def stream(self, names: Sequence[str], positions: Sequence[float]) -> None:
        """Streamed targets (joint_commands); ignored while not active."""
        if not self.active:
            return
        if len(names) != len(positions):
            raise SafetyViolation("name and position differ in length")
        self.controller.stream(dict(zip(names, positions)))

    def changed_objects(self) -> list[ObjectState] | None:
        """The simulator's object states when they changed since the last call (sim/objects)."""
        return self._object_changes.poll() if self._object_changes is not None else None

    # -- actions ------------------------------------------------------------------------
    def move(self, names: Sequence[str], positions: Sequence[float], duration: float, relative: bool,
             cancel_requested: CancelRequested, feedback: Callable[[list[float], float], None],
             ) -> tuple[CommandHandle, list[float]]:
        """A move to its end: (its handle, the joints' measured positions); feedback gets the
        measured positions and the progress. A zero ``duration`` moves at the default speed."""
        controller = self.controller
        handle = controller.move(joint_targets(names, positions), duration or None, relative)
        follow(controller, handle, cancel_requested, lambda: feedback(measured(controller, names), handle.progress))
        return handle, measured(controller, names)

    def grasp(self, object_id: int, side: str, force: float, cancel_requested: CancelRequested,
              feedback: Callable[[float, float], None]) -> tuple[CommandHandle, GraspOutcome]:
        """Close a gripper (``object_id`` < 0; side "r" unless given) or grasp the object
        perception knows by ``object_id`` (with the arm that reaches it unless a side is given);
        feedback gets the force (N) and the gripper's position (rad)."""
        controller = self.controller

        def wait(side: str, handle: CommandHandle, closing: bool = True) -> None:
            follow(controller, handle, cancel_requested,
                   lambda: feedback(*grasp_feedback(controller, handle, side, closing)))

        if object_id >= 0:
            plan = plan_object_grasp(self.reach, self.known_objects, object_id, side or None, controller.setpoints,
                                     force)
            handle = run_object_grasp(controller, plan,
                                      lambda step, h: wait(plan.side, h, step.grasp_force is not None))
        else:
            handle = controller.grasp(side or "r", force)
            wait(side or "r", handle)
        return handle, GraspOutcome.of(handle)
