from embodied_ai.diagnostics import HardwareView, Level, hardware_statuses, stale_status


def view(**changes):
    base = dict(backend="sim", loop_rate_hz=200.0, joint_names=["head_pan", "head_tilt"],
                temperatures=[30.0, 30.0], joint_faults=["", ""], joint_warnings=["", ""],
                forces={"gripper_r": 1.0}, imu_available=True, emergency_stop=False, emergency_stop_reason="")
    base.update(changes)
    return HardwareView(**base)


def levels(statuses):
    return {s.name: s.level for s in statuses}


def test_healthy_robot_is_all_ok():
    assert set(levels(hardware_statuses(view(), 200.0)).values()) == {Level.OK}


def test_faults_estop_slow_loop_and_missing_imu_raise_levels():
    statuses = levels(hardware_statuses(view(
        joint_faults=["over-temperature 75.0 C > 70.0 C", ""], joint_warnings=["", "temperature 65 C"],
        emergency_stop=True, emergency_stop_reason="button", loop_rate_hz=120.0, imu_available=False), 200.0))
    assert statuses["motor: head_pan"] is Level.ERROR
    assert statuses["motor: head_tilt"] is Level.WARN
    assert statuses["servo_controller: emergency stop"] is Level.ERROR
    assert statuses["servo_controller: control loop"] is Level.WARN
    assert statuses["sensors: imu"] is Level.WARN


def test_silence_is_stale():
    assert stale_status(None).level is Level.STALE
    assert "2.5 s" in stale_status(2.5).message
