"""The launcher without ROS: config parsing, DDS environment, and supervision of real processes."""

import sys
import time

import pytest
import yaml

from embodied_ai.launcher.config import DdsConfig, RestartPolicy, load_launch_config
from embodied_ai.launcher.environment import ros_environment
from embodied_ai.launcher.graph import graph_processes
from embodied_ai.launcher.supervisor import ProcessSpec, Supervisor
from tests.conftest import REPO

CONFIG = REPO / "launch" / "robot.yaml"


def test_robot_config_substitutes_root_and_applies_overrides():
    config = load_launch_config(CONFIG, ["servo_controller.rate_hz=100", "servo_controller.hardware=dynamixel"])
    params = config.nodes["servo_controller"].parameters
    assert params["robot_description_file"] == str(REPO / "urdf" / "embodied_robot.urdf")
    assert params["rate_hz"] == 100 and params["hardware"] == "dynamixel"
    assert isinstance(params["rate_hz"], float)  # the node declares a double
    assert {"servo_controller", "sensors", "rest_bridge"} <= set(config.nodes)


@pytest.mark.parametrize("override, message", [
    ("rate_hz=100", "node.parameter=value"),
    ("gripper.force=3", "no node 'gripper'"),
])
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ValueError, match=message):
        load_launch_config(CONFIG, [override])


def test_unknown_keys_in_config_are_rejected(tmp_path):
    path = tmp_path / "launch" / "bad.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"nodes": {"x": {"package": "p", "executable": "e", "respwan": True}}}))
    with pytest.raises(ValueError, match="respwan"):
        load_launch_config(path)


def test_params_files_are_ros2_parameter_files(tmp_path):
    config = load_launch_config(CONFIG)
    specs = graph_processes(config, tmp_path, only={"servo_controller"})
    assert [s.name for s in specs] == ["servo_controller"]
    argv = specs[0].argv
    assert argv[1:3] == ["-m", "embodied_ros.servo_controller"] and "__node:=servo_controller" in argv
    params = yaml.safe_load((tmp_path / "servo_controller.params.yaml").read_text())
    assert params["/**"]["ros__parameters"]["hardware"] == "sim"
    with pytest.raises(ValueError, match="no such node"):
        graph_processes(config, tmp_path, only={"nope"})


def test_dds_environment_defaults_to_localhost_and_keeps_what_is_set():
    env = ros_environment(DdsConfig(domain_id=42, fastdds_profile="/p.xml"),
                          {"ROS_DOMAIN_ID": "7", "_ROS_WHEELS_BOOTSTRAP_COMPLETE": "1"})
    assert env["ROS_DOMAIN_ID"] == "7"
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == env["FASTRTPS_DEFAULT_PROFILES_FILE"] == "/p.xml"
    assert "_ROS_WHEELS_BOOTSTRAP_COMPLETE" not in env
    assert ros_environment(DdsConfig(domain_id=42), {})["ROS_DOMAIN_ID"] == "42"


class _Lines:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def _wait(predicate, supervisor, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.poll()
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_crashed_process_is_restarted_with_doubling_backoff():
    crasher = ProcessSpec("crasher", [sys.executable, "-c", "print('hello', flush=True); raise SystemExit(3)"])
    out = _Lines()
    supervisor = Supervisor([crasher], {}, RestartPolicy(initial_backoff_s=0.1, max_backoff_s=0.4,
                                                        stable_after_s=30), output=out)
    supervisor.start()
    try:
        started = time.monotonic()
        _wait(lambda: supervisor.restarts()["crasher"] >= 3, supervisor)
        # 0.1 + 0.2 + 0.4 s of back-off at least
        assert time.monotonic() - started >= 0.7
    finally:
        supervisor.stop()
    assert "process exited with code 3" in out.text and "[crasher-" in out.text and "hello" in out.text
    assert "restarting in 0.4 s" in out.text and "restarting in 0.8" not in out.text


def test_stop_interrupts_then_terminates_and_does_not_restart():
    sleeper = ProcessSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = ProcessSpec("stubborn", [sys.executable, "-c",
                                        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                                        "print('ready', flush=True); time.sleep(60)"])
    out = _Lines()
    supervisor = Supervisor([sleeper, stubborn], {}, RestartPolicy(initial_backoff_s=0.1), output=out)
    supervisor.start()
    _wait(lambda: "ready" in out.text, supervisor)
    pids = supervisor.pids()
    started = time.monotonic()
    supervisor.stop(timeout=1.0)
    assert time.monotonic() - started < 5
    assert all(pid is not None for pid in pids.values())
    assert supervisor.pids() == {"sleeper": None, "stubborn": None}
    assert "sending SIGTERM" in out.text  # the stubborn one ignored SIGINT
    supervisor.poll()
    assert supervisor.restarts() == {"sleeper": 0, "stubborn": 0}
