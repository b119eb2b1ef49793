"""The control loop without ROS: pacing, the measured rate, and which ticks report hardware_state."""

import threading

import pytest

from embodied_ai.control import ServoController
from embodied_ai.control.loop import ControlLoop, LoopTimer, RateMeter, Tick
from tests.conftest import LOOP_DT


def test_an_on_time_loop_waits_out_the_rest_of_each_period(clock):
    timer = LoopTimer(200.0, clock=clock)
    clock.advance(0.001)   # the tick's work
    assert timer.next_delay() == pytest.approx(0.004)


def test_a_late_tick_is_followed_at_once_while_within_one_period(clock):
    timer = LoopTimer(200.0, clock=clock)
    clock.advance(0.008)   # 3 ms late
    assert timer.next_delay() == 0.0
    assert timer.next_delay() == pytest.approx(0.002)   # back on the original schedule


def test_after_a_stall_the_schedule_starts_afresh_instead_of_bursting(clock):
    timer = LoopTimer(200.0, clock=clock)
    clock.advance(0.1)     # a 100 ms stall: 19 ticks behind
    assert timer.next_delay() == 0.0
    assert timer.next_delay() == pytest.approx(0.005)   # not 19 ticks at once


def test_with_no_lag_allowed_any_late_tick_restarts_the_schedule(clock):
    timer = LoopTimer(10.0, max_lag_s=0.0, clock=clock)   # a camera: never burst to catch up
    clock.advance(0.15)
    assert timer.next_delay() == 0.0
    assert timer.next_delay() == pytest.approx(0.1)


def test_the_rate_is_measured_over_whole_windows(clock):
    meter = RateMeter(window_s=1.0, clock=clock)
    assert meter.rate_hz == 0.0
    for _ in range(210):
        clock.advance(0.005)
        meter.tick()
    assert meter.rate_hz == pytest.approx(200.0, rel=0.01)
    for _ in range(50):
        clock.advance(0.01)   # slower, but this window is not complete yet
        meter.tick()
    assert meter.rate_hz == pytest.approx(200.0, rel=0.01)
    for _ in range(60):
        clock.advance(0.01)
        meter.tick()
    assert 95.0 < meter.rate_hz < 115.0


@pytest.fixture
def loop(description, sim, safety, clock) -> ControlLoop[float]:
    controller = ServoController(description, sim, safety, clock=clock)
    controller.activate()
    return ControlLoop(controller, 200.0, now=clock, clock=clock)


def step(loop: ControlLoop[float], clock) -> Tick[float]:
    clock.advance(LOOP_DT)
    return loop.step()


def test_every_tick_has_a_status_stamped_before_the_read_and_every_tenth_reports_hardware_state(loop, clock):
    ticks = [step(loop, clock) for _ in range(30)]
    assert [i for i, tick in enumerate(ticks, start=1) if tick.events is not None] == [10, 20, 30]
    assert all(tick.stamp <= tick.status.stamp for tick in ticks) and ticks[-1].backend == "sim"


def test_events_wait_for_the_next_report_unless_the_e_stop_is_latched(loop, clock):
    step(loop, clock)
    loop.controller.reset_emergency_stop()   # an event, no e-stop
    assert step(loop, clock).events is None
    loop.controller.emergency_stop("test")
    latched = step(loop, clock)
    assert latched.events == ["emergency stop was not latched", "emergency stop: test"]
    assert latched.status.emergency_stop


def test_run_ticks_at_its_rate_on_a_real_clock_until_stopped(description, sim, safety):
    controller = ServoController(description, sim, safety)
    controller.activate()
    loop = ControlLoop(controller, 200.0, now=lambda: 0.0)
    stop, ticks = threading.Event(), []

    def publish(tick: Tick[float]) -> None:
        ticks.append(tick)
        if len(ticks) == 40:
            stop.set()
    thread = threading.Thread(target=loop.run, args=(stop, lambda: True, publish))
    thread.start()
    thread.join(timeout=5.0)
    assert not thread.is_alive() and len(ticks) == 40


def test_the_loop_thread_takes_the_real_time_class_or_says_why_not():
    """Run in a thread of its own, as the control loop is: the thread's class and core change,
    or the lines say why they could not; the test's own thread is left as it was."""
    import os
    import threading

    from embodied_ai.control.loop import make_realtime

    before = os.sched_getscheduler(0)
    seen: dict[str, object] = {}

    def loop_thread() -> None:
        seen["said"] = make_realtime(10, 0)
        seen["policy"], seen["cpus"] = os.sched_getscheduler(0), os.sched_getaffinity(0)
    thread = threading.Thread(target=loop_thread)
    thread.start()
    thread.join()
    said = seen["said"]
    assert isinstance(said, list) and len(said) == 2
    if "not permitted" in said[0]:
        assert seen["policy"] == before
    else:
        assert said[0].endswith("SCHED_FIFO priority 10") and seen["policy"] == os.SCHED_FIFO
    assert said[1] == "control loop: pinned to CPU 0" and seen["cpus"] == {0}
    assert os.sched_getscheduler(0) == before   # only the loop's thread changed
    assert make_realtime(0, -1) == []            # both off: nothing done, nothing said
