"""The servo controller's control loop without ROS: pacing, measured rate, what each tick reports.

``ControlLoop.run`` ticks the controller at ``rate_hz`` on its own thread and hands every
tick's status to the node, which publishes it (joint_states every tick, hardware_state when
``Tick.events`` is not None). ``LoopTimer`` and ``RateMeter`` are the pacing and the measured
rate, on any clock (tests use a fake one); the camera's capture loop paces itself the same way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from embodied_ai.control.controller import ControllerStatus, ServoController

Clock = Callable[[], float]
Stamp = TypeVar("Stamp")

# hardware_state goes out every this many ticks (20 Hz at 200 Hz): the sensors node and the
# bridge need temperatures and forces, not at the loop rate.
HARDWARE_STATE_EVERY_N_TICKS = 10


class LoopTimer:
    """Paces a loop at ``rate_hz``. A tick that comes late is followed at once by the next one
    on the original schedule while it is at most ``max_lag_s`` late; later than that (a stall),
    the schedule starts afresh from now, so a stall is never followed by a burst of ticks."""

    def __init__(self, rate_hz: float, max_lag_s: float | None = None, clock: Clock = time.monotonic) -> None:
        self.period_s = 1.0 / rate_hz
        self.max_lag_s = self.period_s if max_lag_s is None else max_lag_s
        self._clock = clock
        self._next = clock()

    def restart(self) -> None:
        self._next = self._clock()

    def next_delay(self) -> float:
        """Seconds to wait until the next tick is due; 0.0 when it is due already."""
        self._next += self.period_s
        delay = self._next - self._clock()
        if delay > 0:
            return delay
        if -delay > self.max_lag_s:
            self.restart()
        return 0.0


class RateMeter:
    """Ticks per second over the last complete window of ``window_s`` (0.0 before the first)."""

    def __init__(self, window_s: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.window_s = window_s
        self.rate_hz = 0.0
        self._clock = clock
        self._started = clock()
        self._ticks = 0

    def tick(self) -> None:
        self._ticks += 1
        now = self._clock()
        if now - self._started >= self.window_s:
            self.rate_hz = self._ticks / (now - self._started)
            self._started, self._ticks = now, 0


@dataclass(frozen=True)
class Tick(Generic[Stamp]):
    stamp: Stamp                 # taken before the tick read the servos: the states are of this moment
    status: ControllerStatus
    backend: str                 # the hardware back end's kind (sim, dynamixel)
    rate_hz: float               # the loop rate measured over the last second
    events: list[str] | None     # a hardware_state report is due: the events since the last one


class ControlLoop(Generic[Stamp]):
    """Ticks ``controller`` at ``rate_hz``; ``now`` stamps each tick (the node's ROS clock).

    hardware_state is due every ``every_n_ticks`` ticks, and at once when events come while the
    e-stop is latched (an e-stop must reach /diagnostics without waiting for the next report).
    """

    def __init__(self, controller: ServoController, rate_hz: float, now: Callable[[], Stamp],
                 clock: Clock = time.monotonic, every_n_ticks: int = HARDWARE_STATE_EVERY_N_TICKS) -> None:
        self.controller = controller
        self.rate_hz = rate_hz
        self.every_n_ticks = every_n_ticks
        self._now = now
        self._clock = clock
        self._meter = RateMeter(clock=clock)
        self._ticks = 0
        self._events: list[str] = []

    def step(self) -> Tick[Stamp]:
        stamp = self._now()
        status = self.controller.tick()
        self._meter.tick()
        self._ticks += 1
        self._events.extend(status.events)
        due = self._ticks % self.every_n_ticks == 0 or bool(self._events and status.emergency_stop)
        events = None
        if due:
            events, self._events = self._events, []
        return Tick(stamp, status, self.controller.hardware.kind, self._meter.rate_hz, events)

    def run(self, stop: threading.Event, running: Callable[[], bool], publish: Callable[[Tick[Stamp]], None]) -> None:
        """Tick until ``stop`` is set or ``running`` turns false (the node's context shut down)."""
        timer = LoopTimer(self.rate_hz, clock=self._clock)
        while not stop.is_set() and running():
            publish(self.step())
            stop.wait(timer.next_delay())


def make_realtime(priority: int, cpu: int) -> list[str]:
    """Give the calling thread what Linux gives a control loop: the SCHED_FIFO real-time class at
    ``priority`` (1-99; 0 keeps the normal class) and one core to itself (``cpu``; -1: any).

    Returns one line per setting for the log: what was done, or why it was not permitted (the
    FIFO class needs CAP_SYS_NICE or an rtprio limit, e.g. /etc/security/limits.conf on a robot),
    so a loop running without them says so rather than jitter quietly.
    """
    said = []
    if priority > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
            said.append(f"control loop: real-time scheduling SCHED_FIFO priority {priority}")
        except OSError as exc:
            said.append(f"control loop: real-time scheduling not permitted ({exc.strerror}; it needs CAP_SYS_NICE "
                        f"or an rtprio limit): running at normal priority")
    if cpu >= 0:
        try:
            os.sched_setaffinity(0, {cpu})
            said.append(f"control loop: pinned to CPU {cpu}")
        except OSError as exc:
            said.append(f"control loop: could not pin to CPU {cpu} ({exc.strerror}): any CPU")
    return said
