import pytest

from embodied_ai.control.profile import MinJerkTrajectory, StopRamp, track_toward


def test_min_jerk_starts_and_ends_at_rest_and_peaks_at_1_875_times_average():
    trajectory = MinJerkTrajectory({"a": 0.0}, {"a": 1.0}, 2.0)
    assert trajectory.sample(0.0) == ({"a": 0.0}, {"a": 0.0})
    end_positions, end_velocities = trajectory.sample(2.0)
    assert end_positions["a"] == pytest.approx(1.0) and end_velocities["a"] == pytest.approx(0.0)
    assert trajectory.sample(1.0)[1]["a"] == pytest.approx(1.875 * 0.5)
    assert trajectory.sample(5.0)[0]["a"] == pytest.approx(1.0)


def test_stop_ramp_decelerates_at_the_bound_and_holds():
    ramp = StopRamp({"a": 0.0}, {"a": 2.0}, deceleration=4.0)
    assert ramp.duration == pytest.approx(0.5)
    assert ramp.sample(0.25) == (pytest.approx({"a": 0.375}), pytest.approx({"a": 1.0}))
    positions, velocities = ramp.sample(1.0)
    assert positions["a"] == pytest.approx(0.5) and velocities["a"] == 0.0


def test_stop_ramp_before_its_start_holds_the_start():
    """A tick's time is taken before its bus read; a fault found in a slow read starts the ramp
    later than that time. Sampling at a negative time must not extrapolate backwards."""
    ramp = StopRamp({"a": 0.1}, {"a": 2.0}, deceleration=4.0)
    assert ramp.sample(-0.25) == ({"a": 0.1}, {"a": 2.0})


def test_tracker_respects_velocity_and_deceleration_and_lands_on_target():
    position, velocity, dt = 0.0, 0.0, 0.005
    for _ in range(2000):
        new_position, new_velocity = track_toward(position, velocity, 1.0, 1.0, 4.0, dt)
        assert abs(new_velocity) <= 1.0 + 1e-9
        assert abs(new_velocity - velocity) <= 4.0 * dt + 1e-9
        position, velocity = new_position, new_velocity
    assert position == pytest.approx(1.0) and velocity == 0.0
