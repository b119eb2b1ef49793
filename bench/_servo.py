"""The servo controller's own cycle on the simulated robot, timed without ROS: what the controller node's
loop thread runs each period (``ControlLoop.step``: ``ServoController.tick``, i.e. read the simulated
servos, fold faults in, advance the active command, gate, write; then the rate meter and the
hardware_state bookkeeping), built as launch/robot.yaml configures the node (the repository's URDF,
launch/safety.yaml, the sim back end with launch/hardware_sim.yaml, 200 Hz).

The clock is simulated and moves one period before each cycle, so the simulator integrates a real
period's worth of physics each time (its cost grows with the elapsed time) while the cycles run back to
back. Publishing the states (the node's ROS side) is not in it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from embodied_ai.control.config import ServoControllerConfig
from embodied_ai.control.controller import ControllerStatus, ServoController
from embodied_ai.control.loop import ControlLoop
from embodied_ai.hardware.factory import load_hardware_config, sim_object_from_config, sim_table_from_config
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.robot import load_robot_description
from embodied_ai.safety import load_safety_config
from embodied_ai.skills.servos import ManualClock

REPO = Path(__file__).resolve().parents[1]
URDF = REPO / "urdf" / "embodied_robot.urdf"
SAFETY = REPO / "launch" / "safety.yaml"
SIM_CONFIG = REPO / "launch" / "hardware_sim.yaml"
SERVO_RATE_HZ = ServoControllerConfig().rate_hz      # launch/robot.yaml's rate_hz too


class SimulatedServoLoop:
    """The servo controller node's loop body on the simulated robot, on a simulated clock; each cycle timed."""

    def __init__(self, rate_hz: float = SERVO_RATE_HZ) -> None:
        description, safety = load_robot_description(URDF), load_safety_config(SAFETY)
        sim = load_hardware_config(SIM_CONFIG)
        self.period_s = 1.0 / rate_hz
        self._clock = ManualClock()
        # As hardware.factory.create_hardware builds the sim back end, on the simulated clock.
        robot = SimulatedRobot(description, [sim_object_from_config(entry) for entry in sim.get("objects", [])],
                               clock=self._clock, seed=int(sim.get("seed", 0)),
                               table=sim_table_from_config(sim.get("table") or {}),
                               initial_positions=sim.get("initial_positions") or {})
        robot.open()
        self.controller = ServoController(description, robot, safety, clock=self._clock)
        self.controller.activate()
        self._loop = ControlLoop(self.controller, rate_hz, now=self._clock)
        self.status: ControllerStatus = self._loop.step().status    # what /joint_states last said

    def stream(self, targets: Mapping[str, float]) -> None:
        """Streamed joint targets, as the node's /joint_commands subscription hands them over."""
        self.controller.stream(targets)

    def cycles(self, count: int) -> list[float]:
        """Run ``count`` cycles, one period of simulated time apart; the seconds each cycle took."""
        took = []
        for _ in range(count):
            self._clock.now += self.period_s
            started = time.perf_counter_ns()
            self.status = self._loop.step().status
            took.append((time.perf_counter_ns() - started) * 1e-9)
        return took
