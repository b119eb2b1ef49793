"""Process plumbing for the benchmarks in bench/, and the bare baseline node.

- ``dds_env``: the DDS settings every benchmark process gets (localhost discovery, its own
  domain id, the repository's Fast DDS profile).
- ``Proc``: a process this benchmark started, stopped by PID (SIGINT, then SIGTERM, then
  SIGKILL), with its output in a log file.
- ``start_controller``: ``embodied up --only servo_controller`` at a given loop rate.
- ``start_bare``: this file run as ``python bench/_graph.py bare --rate HZ``: a plain rclpy node
  that publishes the same 12-joint JointState from an rclpy timer at ``rate`` (the jitter
  baseline) and republishes every message it gets on ``bench/echo_cmd`` on ``bench/echo_state``
  (the transport floor for the command-to-state latency).

Only the standard library is imported at module level, so the launcher side works before
rclpy is initialised; the bare node imports rclpy itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FASTDDS_PROFILE = REPO / "launch" / "fastdds_localhost.xml"
EMBODIED = Path(sys.executable).parent / "embodied"
# Set by the ROS wheels' bootstrapper in this interpreter; a child must redo its own bootstrap.
BOOTSTRAP_GUARD = "_ROS_WHEELS_BOOTSTRAP_COMPLETE"

BARE_STATES_TOPIC = "bench/baseline_states"
ECHO_CMD_TOPIC = "bench/echo_cmd"
ECHO_STATE_TOPIC = "bench/echo_state"

# The controller's 12 joints in the order it publishes them (urdf/embodied_robot.urdf).
JOINTS = (
    "head_pan", "head_tilt",
    "shoulder_pitch_l", "shoulder_roll_l", "elbow_pitch_l", "wrist_roll_l", "gripper_l",
    "shoulder_pitch_r", "shoulder_roll_r", "elbow_pitch_r", "wrist_roll_r", "gripper_r",
)


def dds_settings(domain_id: int) -> dict[str, str]:
    return {
        "ROS_DOMAIN_ID": str(domain_id),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE),
        "FASTRTPS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE),
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
    }


def dds_env(domain_id: int) -> dict[str, str]:
    """os.environ for a child process, with the benchmark's DDS settings forced."""
    env = dict(os.environ)
    env.pop(BOOTSTRAP_GUARD, None)
    env.update(dds_settings(domain_id))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Proc:
    """A child process started by the benchmark, in its own session, output to ``log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.log = name, argv, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        # Own session: a Ctrl-C on the terminal reaches only this script, which stops the
        # child in order (the launcher then stops its nodes).
        self.popen = subprocess.Popen(argv, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.popen.pid
        self.returncode: int | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def grandchildren(self, name: str = r"\w+") -> list[int]:
        """PIDs the launcher reported starting ("[launcher] NAME: started (pid N)"), oldest first."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [int(m) for m in re.findall(rf"\] {name}: started \(pid (\d+)\)", text)]

    def stop(self, int_timeout: float = 15.0) -> int | None:
        """SIGINT, wait; then SIGTERM, then SIGKILL. Returns the exit code."""
        if self.returncode is None:
            for sig, wait in ((signal.SIGINT, int_timeout), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                if self.popen.poll() is not None:
                    break
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            self.returncode = self.popen.poll()
            # A launcher that had to be killed cannot stop its nodes: stop them by their PIDs.
            if self.returncode is not None and self.returncode < 0:
                for pid in self.grandchildren():
                    _stop_pid(pid)
        if not self._log_file.closed:
            self._log_file.close()
        return self.returncode


def _stop_pid(pid: int) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def start_controller(rate_hz: float, domain_id: int, log_dir: Path, whole_stack: bool = False) -> Proc:
    """The servo controller alone, or (``whole_stack``) with the rest of the default stack beside
    it (the bridge on a free port, a throw-away state directory)."""
    # "200.0", not "200": --set values are parsed as YAML, and an integer rate_hz is refused by
    # the node's DOUBLE parameter (it then crashes and the launcher respawns it in a loop).
    argv = [str(EMBODIED), "up", "--set", f"servo_controller.rate_hz={float(rate_hz)!r}"]
    if whole_stack:
        state = tempfile.mkdtemp(prefix="bench-state-")
        argv += ["--set", "rest_bridge.port=0", "--set", f"rest_bridge.state_dir={state}",
                 "--set", f"experts.state_dir={state}", "--set", f"jobs.state_dir={state}"]
    else:
        argv += ["--only", "servo_controller"]
    name = f"{'stack' if whole_stack else 'servo_controller'}@{rate_hz:g}Hz"
    return Proc(name, argv, dds_env(domain_id), log_dir / f"{'stack' if whole_stack else 'controller'}_{rate_hz:g}hz.log")


def start_bare(rate_hz: float, domain_id: int, log_dir: Path) -> Proc:
    argv = [sys.executable, str(Path(__file__).resolve()), "bare", "--rate", f"{rate_hz:g}"]
    return Proc(f"bare_node@{rate_hz:g}Hz", argv, dds_env(domain_id), log_dir / f"bare_{rate_hz:g}hz.log")


# -- the bare baseline node (its own process) ---------------------------------------------
def _bare_main(rate_hz: float) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    # Same QoS as the controller's joint_states (STATE) and joint_commands (COMMANDS).
    state_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    command_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)

    rclpy.init()
    node = Node("bench_bare")
    publisher = node.create_publisher(JointState, BARE_STATES_TOPIC, state_qos)
    echo_publisher = node.create_publisher(JointState, ECHO_STATE_TOPIC, state_qos)
    positions = [0.0] * len(JOINTS)

    def tick() -> None:
        msg = JointState()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.name = list(JOINTS)
        msg.position = list(positions)
        msg.velocity = [0.0] * len(JOINTS)
        msg.effort = [0.0] * len(JOINTS)
        publisher.publish(msg)

    def echo(msg: JointState) -> None:
        msg.header.stamp = node.get_clock().now().to_msg()
        echo_publisher.publish(msg)

    node.create_timer(1.0 / rate_hz, tick)
    node.create_subscription(JointState, ECHO_CMD_TOPIC, echo, command_qos)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print(f"bench_bare: publishing {BARE_STATES_TOPIC} at {rate_hz:g} Hz, echoing {ECHO_CMD_TOPIC}", flush=True)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="bench helper processes")
    sub = parser.add_subparsers(dest="what", required=True)
    bare = sub.add_parser("bare", help="plain rclpy JointState publisher + echo node")
    bare.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    sys.exit(_bare_main(args.rate))
