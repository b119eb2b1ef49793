"""Servo loop benchmark: loop rate and jitter, command-to-state latency, against bare-rclpy baselines.

For each rate in --rates this script (itself a separate rclpy subscriber process):

1. starts ``embodied up --only servo_controller --set servo_controller.rate_hz=RATE`` and records
   /joint_states for --seconds: achieved rate, period jitter from the publisher's header stamps
   and from the DDS receive timestamps, late / too-late percentages (README.md defines them);
2. streams position targets on /joint_commands (a step of --step rad on head_pan, alternating
   direction, the target re-sent at 50 Hz so the 0.5 s watchdog never fires; each step once the
   joint is still) and times each step until the first /joint_states stamped after the command
   whose head_pan has moved (a) at all (> 1e-5 rad, the command reached a tick) and (b) by more
   than --threshold rad; it also records how far the joint overshoots the target;
3. stops the controller (SIGINT to the launcher, which stops its node) and starts the baseline,
   ``bench/_graph.py bare``: a plain rclpy node whose timer publishes the same 12-joint
   JointState at RATE, measured the same way, and which echoes every command it gets (the
   transport floor for step 2).

All processes share a ROS domain that nobody else on the machine is using (checked first).

Run: .venv/bin/python bench/servo_loop.py [--seconds 8] [--rates 100 200] [--out bench/results/servo_loop.json]
With ``--beside-stack`` step 1 starts the whole default stack instead, which idles beside the
controller while it is measured (the issue's "late ticks with the idle stack beside it").
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _graph  # noqa: E402  (bench/ is not a package)

REPO = _graph.REPO
FIRST_MOTION_EPS_RAD = 1e-5     # "the joint has started to move" (far above float noise, far below one tick's motion)
QUIET_RAD = 2e-6                # a step starts only once head_pan moves less than this per message...
QUIET_MESSAGES = 5              # ...over this many consecutive messages (or after --settle + 1 s, flagged)
STREAM_RATE_HZ = 50.0           # how often the streamed target is re-sent (watchdog is 0.5 s)
LATENCY_JOINT = "head_pan"      # +-90 deg in urdf/embodied_robot.urdf


# -- statistics ---------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    if not s:
        return math.nan
    k = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def std(values: list[float]) -> float:
    if len(values) < 2:
        return math.nan
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def late_thresholds(nominal_s: float) -> tuple[float, float]:
    """iRobot ros2-performance thresholds: late > min(20 % of the period, 5 ms), too late > min(100 %, 50 ms)."""
    return min(0.2 * nominal_s, 0.005), min(nominal_s, 0.050)


def classify(excess_s: list[float], nominal_s: float) -> dict[str, float]:
    """Late / too-late percentages of ``excess_s`` (time over the nominal); late excludes too late, as in iRobot's tracker."""
    late_thr, too_late_thr = late_thresholds(nominal_s)
    n = len(excess_s)
    too_late = sum(1 for e in excess_s if e > too_late_thr)
    late = sum(1 for e in excess_s if late_thr < e <= too_late_thr)
    return {"late_pct": 100.0 * late / n if n else math.nan, "too_late_pct": 100.0 * too_late / n if n else math.nan,
            "late_threshold_ms": late_thr * 1e3, "too_late_threshold_ms": too_late_thr * 1e3}


def period_stats(times_ns: list[int], nominal_s: float) -> dict[str, Any]:
    periods = [(b - a) * 1e-9 for a, b in zip(times_ns, times_ns[1:])]
    if not periods:
        return {"n_periods": 0}
    dev = [abs(p - nominal_s) for p in periods]
    return {
        "n_periods": len(periods),
        "mean_period_ms": 1e3 * sum(periods) / len(periods),
        "min_period_ms": 1e3 * min(periods),
        "max_period_ms": 1e3 * max(periods),
        "period_std_ms": 1e3 * std(periods),
        "abs_dev_p50_ms": 1e3 * percentile(dev, 50),
        "abs_dev_p99_ms": 1e3 * percentile(dev, 99),
        "abs_dev_max_ms": 1e3 * max(dev),
        # Periods well under nominal: a loop catching up after a late tick (bursts).
        "short_pct": 100.0 * sum(1 for p in periods if p < 0.5 * nominal_s) / len(periods),
        **classify([p - nominal_s for p in periods], nominal_s),
    }


def summary(values_s: list[float]) -> dict[str, float]:
    if not values_s:
        return {"n": 0}
    return {"n": len(values_s), "p50_ms": 1e3 * percentile(values_s, 50), "p95_ms": 1e3 * percentile(values_s, 95),
            "max_ms": 1e3 * max(values_s), "mean_ms": 1e3 * sum(values_s) / len(values_s), "min_ms": 1e3 * min(values_s)}


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None or any(isinstance(v, float) and math.isnan(v) for v in (ours, base)):
        return None
    if base == 0:
        return None if ours != 0 else 1.0
    return ours / base


# -- process CPU accounting ---------------------------------------------------------------
def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def system_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def busy_pct(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float | None:
    """Machine-wide CPU busy % between two system_cpu() samples (100 % = every CPU busy)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return 100.0 * (after[0] - before[0]) / (after[1] - before[1])


# -- the measuring node -------------------------------------------------------------------
@dataclass
class Recorder:
    """Messages on one topic while ``active``: (stamp_ns, receive_ns, publication_seq)."""

    active: bool = False
    rows: list[tuple[int, int, int]] = field(default_factory=list)
    count: int = 0
    first: threading.Event = field(default_factory=threading.Event)


@dataclass
class Trial:
    direction: float
    rest: float
    threshold: float
    t0_wall_ns: int
    t0_mono_ns: int
    target: float = 0.0
    echo_id: float | None = None
    first: tuple[int, int, int] | None = None    # (receive_ns, callback_mono_ns, stamp_ns)
    crossed: tuple[int, int, int] | None = None
    overshoot: float = 0.0                       # furthest past the target, in the step's direction
    done: threading.Event = field(default_factory=threading.Event)


class BenchNode:
    def __init__(self) -> None:
        from rclpy.node import Node
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState

        self.JointState = JointState
        self.node = Node("bench_servo_loop")
        # Reliable like the publishers; a deep queue so a slow Python callback loses nothing.
        sub_qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        cmd_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.recorders = {t: Recorder() for t in ("joint_states", _graph.BARE_STATES_TOPIC, _graph.ECHO_STATE_TOPIC)}
        self.trial: Trial | None = None
        self.last_position: float | None = None
        self.recent_positions: collections.deque[float] = collections.deque(maxlen=QUIET_MESSAGES + 1)
        self._joint_index: int | None = None
        for topic in self.recorders:
            self.node.create_subscription(JointState, topic, self._make_callback(topic), sub_qos)
        self.cmd_pub = self.node.create_publisher(JointState, "joint_commands", cmd_qos)
        self.echo_pub = self.node.create_publisher(JointState, _graph.ECHO_CMD_TOPIC, cmd_qos)
        self.stream_target: float | None = None
        self._stream_lock = threading.Lock()
        self.node.create_timer(1.0 / STREAM_RATE_HZ, self._stream_tick)

    def _make_callback(self, topic: str):
        recorder = self.recorders[topic]
        is_state = topic == "joint_states"
        is_echo = topic == _graph.ECHO_STATE_TOPIC

        def callback(msg: Any, info: dict[str, Any]) -> None:
            cb_ns = time.perf_counter_ns()
            recv_ns = info.get("received_timestamp") or time.time_ns()
            stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            recorder.count += 1
            recorder.first.set()
            if recorder.active:
                recorder.rows.append((stamp_ns, recv_ns, info.get("publication_sequence_number") or 0))
            trial = self.trial
            if is_state:
                if self._joint_index is None:
                    self._joint_index = list(msg.name).index(LATENCY_JOINT)
                position = msg.position[self._joint_index]
                self.last_position = position
                self.recent_positions.append(position)
                if trial is not None and trial.echo_id is None:
                    if stamp_ns < trial.t0_wall_ns:
                        # Stamped before the command was sent: cannot show it. The newest such
                        # state is the rest position (this callback may run late).
                        trial.rest = position
                    else:
                        trial.overshoot = max(trial.overshoot, (position - trial.target) * trial.direction)
                        if not trial.done.is_set():
                            moved = (position - trial.rest) * trial.direction
                            if trial.first is None and moved > FIRST_MOTION_EPS_RAD:
                                trial.first = (recv_ns, cb_ns, stamp_ns)
                            if moved > trial.threshold:
                                trial.crossed = (recv_ns, cb_ns, stamp_ns)
                                trial.done.set()
            elif is_echo and trial is not None and trial.echo_id is not None:
                if msg.position and msg.position[0] == trial.echo_id and not trial.done.is_set():
                    trial.first = trial.crossed = (recv_ns, cb_ns, stamp_ns)
                    trial.done.set()

        return callback

    def _stream_tick(self) -> None:
        # Publish under the lock: a re-send of the old target must not overtake a new step.
        with self._stream_lock:
            if self.stream_target is not None:
                self.cmd_pub.publish(self.JointState(name=[LATENCY_JOINT], position=[self.stream_target]))

    def set_target(self, target: float | None) -> None:
        with self._stream_lock:
            self.stream_target = target
            if target is not None:
                self.cmd_pub.publish(self.JointState(name=[LATENCY_JOINT], position=[target]))


# -- phases -------------------------------------------------------------------------------
def wait_first_message(bench: BenchNode, topic: str, proc: _graph.Proc, timeout: float) -> None:
    recorder = bench.recorders[topic]
    recorder.first.clear()
    deadline = time.monotonic() + timeout
    while not recorder.first.wait(0.1):
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited (code {proc.popen.returncode}) before publishing "
                               f"{topic}; log {proc.log}:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no message on {topic} within {timeout:.0f} s; log {proc.log}:\n{proc.log_tail()}")


def wait_subscribed(publisher: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while publisher.get_subscription_count() < 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"nobody subscribed to {publisher.topic_name} within {timeout:.0f} s")
        time.sleep(0.05)


def measure_stream(bench: BenchNode, topic: str, seconds: float, nominal_s: float, cpu_pid: int | None,
                   raw: bool = False) -> dict[str, Any]:
    recorder = bench.recorders[topic]
    recorder.rows = []
    cpu0, sys0, own0, wall0 = cpu_seconds(cpu_pid), system_cpu(), time.process_time(), time.monotonic()
    recorder.active = True
    time.sleep(seconds)
    recorder.active = False
    cpu1, sys1, own1, wall1 = cpu_seconds(cpu_pid), system_cpu(), time.process_time(), time.monotonic()
    time.sleep(0.05)
    rows = list(recorder.rows)
    if len(rows) < 3:
        raise RuntimeError(f"only {len(rows)} messages on {topic} in {seconds} s")
    stamps = [r[0] for r in rows]
    recvs = [r[1] for r in rows]
    seqs = [r[2] for r in rows]
    lost = sum(max(0, b - a - 1) for a, b in zip(seqs, seqs[1:])) if all(seqs) else None
    out_of_order = sum(1 for a, b in zip(stamps, stamps[1:]) if b <= a)
    latency = [(r - s) * 1e-9 for s, r in zip(stamps, recvs)]
    publisher_pct = 100.0 * (cpu1 - cpu0) / (wall1 - wall0) if cpu0 is not None and cpu1 is not None else None
    bench_pct = 100.0 * (own1 - own0) / (wall1 - wall0)
    machine_pct = busy_pct(sys0, sys1)
    others_pct = (machine_pct * (os.cpu_count() or 1) - publisher_pct - bench_pct
                  if machine_pct is not None and publisher_pct is not None else None)
    return {
        "topic": topic,
        "window_s": seconds,
        "messages": len(rows),
        "lost": lost,
        "stamps_not_increasing": out_of_order,
        "rate_hz_stamps": (len(stamps) - 1) / ((stamps[-1] - stamps[0]) * 1e-9),
        "rate_hz_receive": (len(recvs) - 1) / ((recvs[-1] - recvs[0]) * 1e-9),
        "from_stamps": period_stats(stamps, nominal_s),
        "from_receive": period_stats(recvs, nominal_s),
        # iRobot's own use of the thresholds: on the stamp-to-receive latency.
        "stamp_to_receive": {**summary(latency), "p99_ms": 1e3 * percentile(latency, 99),
                             **classify(latency, nominal_s)},
        # CPU in % of one core: the publishing node, this script, and everything else on the
        # machine (other processes: their load shows up as jitter in both columns).
        "publisher_cpu_pct": publisher_pct,
        "bench_cpu_pct": bench_pct,
        "others_cpu_pct": others_pct,
        "machine_busy_pct": machine_pct,
    } | ({"raw_stamp_ns": stamps, "raw_receive_ns": recvs} if raw else {})


def wait_quiet(bench: BenchNode, deadline: float) -> bool:
    """Wait until head_pan has stopped moving (QUIET_RAD over QUIET_MESSAGES messages) or ``deadline``."""
    while True:
        recent = list(bench.recent_positions)
        if len(recent) > QUIET_MESSAGES and max(abs(b - a) for a, b in zip(recent, recent[1:])) < QUIET_RAD:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def latency_trials(bench: BenchNode, trials: int, step: float, threshold: float, nominal_s: float,
                   settle_s: float) -> dict[str, Any]:
    wait_subscribed(bench.cmd_pub, 10.0)
    base = bench.last_position if bench.last_position is not None else 0.0
    base = max(-1.4, min(1.4 - step, base))
    bench.set_target(base)
    time.sleep(max(settle_s, 0.3))
    first_recv, first_cb, crossed_recv, crossed_cb, first_tick, overshoots = [], [], [], [], [], []
    per_trial: list[dict[str, Any]] = []
    missed = not_settled = 0
    t_prev = time.monotonic()
    for i in range(trials):
        target = base + step if i % 2 == 0 else base
        direction = 1.0 if i % 2 == 0 else -1.0
        # Let the previous step settle: leftover motion toward this step's direction (after an
        # overshoot) would otherwise look like a response.
        time.sleep(max(0.0, t_prev + settle_s - time.monotonic()))
        settled = wait_quiet(bench, time.monotonic() + 1.0)
        not_settled += not settled
        time.sleep(random.uniform(0.0, nominal_s))  # random phase against the loop
        rest = bench.last_position if bench.last_position is not None else base
        trial = Trial(direction, rest, threshold, time.time_ns(), time.perf_counter_ns(), target=target)
        bench.trial = trial
        t_prev = time.monotonic()
        bench.set_target(target)
        ok = trial.done.wait(2.0)
        good = ok and trial.first is not None and trial.crossed is not None
        if not good:
            missed += 1
        else:
            first_recv.append((trial.first[0] - trial.t0_wall_ns) * 1e-9)
            first_cb.append((trial.first[1] - trial.t0_mono_ns) * 1e-9)
            first_tick.append((trial.first[2] - trial.t0_wall_ns) * 1e-9)
            crossed_recv.append((trial.crossed[0] - trial.t0_wall_ns) * 1e-9)
            crossed_cb.append((trial.crossed[1] - trial.t0_mono_ns) * 1e-9)
        # Keep watching until the step has settled, for the overshoot.
        time.sleep(max(0.0, t_prev + settle_s - time.monotonic()))
        wait_quiet(bench, time.monotonic() + 1.0)
        bench.trial = None
        overshoots.append(trial.overshoot)
        per_trial.append({
            "target": target, "rest": trial.rest, "settled_before": settled,
            "first_motion_ms": first_recv[-1] * 1e3 if good else None,
            "first_motion_tick_stamp_ms": first_tick[-1] * 1e3 if good else None,
            "threshold_ms": crossed_recv[-1] * 1e3 if good else None,
            "overshoot_mrad": 1e3 * trial.overshoot,
        })
    bench.set_target(None)  # stop streaming; the watchdog then holds the joint
    return {
        "trials": trials, "missed": missed, "not_settled_before_step": not_settled,
        "step_rad": step, "threshold_rad": threshold, "first_motion_eps_rad": FIRST_MOTION_EPS_RAD,
        "first_motion": summary(first_recv),
        "first_motion_callback": summary(first_cb),
        "first_motion_tick_stamp": summary(first_tick),
        "threshold": summary(crossed_recv),
        "threshold_callback": summary(crossed_cb),
        # Measured head_pan beyond the streamed target (0 if it never passed it).
        "overshoot_mrad": {"p50": 1e3 * percentile(overshoots, 50), "max": 1e3 * max(overshoots, default=0.0),
                           "steps_over_1mrad": sum(1 for o in overshoots if o > 1e-3)},
        "per_trial": per_trial,
    }


def echo_trials(bench: BenchNode, trials: int) -> dict[str, Any]:
    wait_subscribed(bench.echo_pub, 10.0)
    times_recv, times_cb, missed = [], [], 0
    for i in range(trials):
        time.sleep(random.uniform(0.005, 0.015))
        trial = Trial(1.0, 0.0, 0.0, 0, 0, echo_id=float(i + 1))
        bench.trial = trial
        msg = bench.JointState(name=[LATENCY_JOINT], position=[float(i + 1)])
        trial.t0_wall_ns, trial.t0_mono_ns = time.time_ns(), time.perf_counter_ns()
        bench.echo_pub.publish(msg)
        ok = trial.done.wait(1.0)
        bench.trial = None
        if not ok or trial.first is None:
            missed += 1
            continue
        times_recv.append((trial.first[0] - trial.t0_wall_ns) * 1e-9)
        times_cb.append((trial.first[1] - trial.t0_mono_ns) * 1e-9)
    return {"trials": trials, "missed": missed, "round_trip": summary(times_recv),
            "round_trip_callback": summary(times_cb)}


# -- machine info, output -----------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
        # Uncommitted edits to what the benchmark runs (the numbers are for that tree, not HEAD's).
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "ros2_ws", "launch",
                                "urdf"], capture_output=True, text=True, timeout=5).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", []
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "loadavg_at_start": list(os.getloadavg()),
        "rmw": os.environ.get("RMW_IMPLEMENTATION", ""),
        "git_commit": commit,
        "git_uncommitted": dirty,
    }


def finite(obj: Any) -> Any:
    """NaN and infinities as null, so the JSON file is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(results: dict[str, Any]) -> None:
    for run in results["runs"]:
        rate = run["rate_hz"]
        ours, base = run["servo_controller"]["jitter"], run["baseline"]["jitter"]
        late_thr, too_late_thr = late_thresholds(1.0 / rate)
        beside = " beside the idle stack" if results["settings"].get("beside_stack") else ""
        print(f"\n=== {rate:g} Hz{beside} (nominal {1e3 / rate:.2f} ms; late > {late_thr * 1e3:.2f} ms over, "
              f"too late > {too_late_thr * 1e3:.2f} ms over) ===")
        print(f"{'metric':40s} {'servo_ctrl':>12s} {'bare rclpy':>12s} {'ours/base':>10s}")

        def row(label: str, a: Any, b: Any, digits: int = 3, with_ratio: bool = True) -> None:
            r = ratio(a, b) if with_ratio else None
            print(f"{label:40s} {fmt(a, digits):>12s} {fmt(b, digits):>12s} {fmt(r, 2) if with_ratio else '':>10s}")

        row("messages (lost)", f"{ours['messages']} ({fmt(ours['lost'])})", f"{base['messages']} ({fmt(base['lost'])})",
            with_ratio=False)
        row("achieved rate, stamps (Hz)", ours["rate_hz_stamps"], base["rate_hz_stamps"], 2)
        row("publisher CPU (% of one core)", ours["publisher_cpu_pct"], base["publisher_cpu_pct"], 1)
        row("other processes' CPU (% of one core)", ours["others_cpu_pct"], base["others_cpu_pct"], 1, with_ratio=False)
        for key, label in (("from_stamps", "stamps"), ("from_receive", "receive")):
            a, b = ours[key], base[key]
            row(f"[{label}] period std (ms)", a["period_std_ms"], b["period_std_ms"])
            row(f"[{label}] |period-nominal| p50 (ms)", a["abs_dev_p50_ms"], b["abs_dev_p50_ms"])
            row(f"[{label}] |period-nominal| p99 (ms)", a["abs_dev_p99_ms"], b["abs_dev_p99_ms"])
            row(f"[{label}] |period-nominal| max (ms)", a["abs_dev_max_ms"], b["abs_dev_max_ms"])
            row(f"[{label}] late %", a["late_pct"], b["late_pct"], 2)
            row(f"[{label}] too late %", a["too_late_pct"], b["too_late_pct"], 2)
            row(f"[{label}] periods < nominal/2 %", a["short_pct"], b["short_pct"], 2)
        a, b = ours["stamp_to_receive"], base["stamp_to_receive"]
        row("stamp->receive latency p50 (ms)", a["p50_ms"], b["p50_ms"])
        row("stamp->receive latency p99 (ms)", a["p99_ms"], b["p99_ms"])
        row("stamp->receive late % (iRobot use)", a["late_pct"], b["late_pct"], 2)
        lat, echo = run["servo_controller"]["latency"], run["baseline"]["echo"]["round_trip"]
        print(f"{'command -> state (ms)':40s} {'p50':>8s} {'p95':>8s} {'max':>8s}   (servo: {lat['trials']} steps of "
              f"{lat['step_rad']} rad, {lat['missed']} missed; echo: {run['baseline']['echo']['trials']} round trips)")
        for label, s in (("first motion (> 1e-5 rad)", lat["first_motion"]),
                         (f"moved > {lat['threshold_rad']:g} rad", lat["threshold"]),
                         ("transport floor (bare echo)", echo)):
            print(f"  {label:38s} {fmt(s.get('p50_ms')):>8s} {fmt(s.get('p95_ms')):>8s} {fmt(s.get('max_ms')):>8s}")
        for label, s in (("first motion", lat["first_motion"]), ("threshold", lat["threshold"])):
            print(f"  ratio {label} / floor (p50, p95)       {fmt(ratio(s.get('p50_ms'), echo.get('p50_ms')), 1):>8s} "
                  f"{fmt(ratio(s.get('p95_ms'), echo.get('p95_ms')), 1):>8s}")
        over = lat["overshoot_mrad"]
        print(f"  overshoot past the target (mrad)       {fmt(over['p50']):>8s} {'':>8s} {fmt(over['max']):>8s}   "
              f"({over['steps_over_1mrad']} steps over 1 mrad; {lat['not_settled_before_step']} steps started unsettled)")


# -- main ---------------------------------------------------------------------------------
class _Terminated(Exception):
    pass


def _on_sigterm(_signum: int, _frame: Any) -> None:
    raise _Terminated()


def open_domain(args: argparse.Namespace) -> BenchNode:
    """rclpy.init on a ROS domain nobody else uses; sets args.domain.

    Other graphs on this machine (other people's runs, tests) use fixed domain ids too; a
    second servo_controller on ours would double /joint_states and answer our commands. With no
    --domain, up to 6 ids in 150..199 are tried; a given --domain that is busy is an error.
    """
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    if args.domain is not None:
        candidates = [args.domain]
    else:
        candidates = list(range(150, 200))
        random.Random(os.getpid()).shuffle(candidates)
        candidates = candidates[:6]
    for domain in candidates:
        # The DDS settings must be in place before rclpy creates its participant.
        os.environ.update(_graph.dds_settings(domain))
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO, domain_id=domain)
        bench = BenchNode()
        time.sleep(args.discovery)
        others = sorted({name for name, _ in bench.node.get_node_names_and_namespaces()} - {bench.node.get_name()})
        if not others:
            args.domain = domain
            return bench
        print(f"[bench] ROS_DOMAIN_ID={domain} is in use by another graph ({', '.join(others[:5])}"
              f"{', ...' if len(others) > 5 else ''})", flush=True)
        bench.node.destroy_node()
        rclpy.try_shutdown()
    raise RuntimeError("no free ROS domain found" if len(candidates) > 1 else
                       f"ROS_DOMAIN_ID={candidates[0]} is in use; pass another --domain (or none to pick one)")


def check_sole_publisher(bench: BenchNode, topic: str, expected: int) -> None:
    count = bench.node.count_publishers(topic)
    if count != expected:
        raise RuntimeError(f"{count} publishers on {topic}, expected {expected}: another graph joined "
                           f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID')}; results would be mixed")


def run(args: argparse.Namespace) -> dict[str, Any]:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    log_dir = Path(args.out).resolve().parent / "logs"
    results: dict[str, Any] = {
        "benchmark": "servo_loop",
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "definitions": {
            "late": "time over nominal > min(0.2 * period, 5 ms) and not too late",
            "too_late": "time over nominal > min(period, 50 ms)",
            "period_based": "over = period - nominal (from header stamps, or from DDS receive timestamps)",
            "irobot_latency_based": "over = receive - header stamp (how iRobot's ros2-performance applies them)",
        },
        "runs": [],
    }
    random.seed(args.seed)
    procs: list[_graph.Proc] = []
    bench = open_domain(args)
    results["settings"]["domain"] = args.domain
    print(f"[bench] ROS_DOMAIN_ID={args.domain}", flush=True)
    executor = SingleThreadedExecutor()
    executor.add_node(bench.node)
    spinner = threading.Thread(target=executor.spin, name="bench_executor", daemon=True)
    spinner.start()
    t_start = time.monotonic()
    try:
        for rate in args.rates:
            nominal = 1.0 / rate
            run_result: dict[str, Any] = {"rate_hz": rate}
            print(f"[bench] {rate:g} Hz: starting servo_controller", flush=True)
            check_sole_publisher(bench, "joint_states", 0)
            ctrl = _graph.start_controller(rate, args.domain, log_dir, whole_stack=args.beside_stack)
            procs.append(ctrl)
            wait_first_message(bench, "joint_states", ctrl, args.start_timeout)
            time.sleep(args.warmup)
            check_sole_publisher(bench, "joint_states", 1)
            if args.beside_stack:   # the stack's other nodes: up and idle before the recording
                time.sleep(args.stack_settle)
            node_pids = ctrl.grandchildren("servo_controller")
            print(f"[bench] {rate:g} Hz: recording /joint_states for {args.seconds:g} s", flush=True)
            jitter = measure_stream(bench, "joint_states", args.seconds, nominal, node_pids[-1] if node_pids else None,
                                    args.raw)
            print(f"[bench] {rate:g} Hz: {args.trials} command steps on {LATENCY_JOINT}", flush=True)
            latency = latency_trials(bench, args.trials, args.step, args.threshold, nominal, args.settle)
            check_sole_publisher(bench, "joint_states", 1)
            code = ctrl.stop()
            run_result["servo_controller"] = {"jitter": jitter, "latency": latency, "launcher_exit": code}

            print(f"[bench] {rate:g} Hz: starting bare rclpy baseline", flush=True)
            bare = _graph.start_bare(rate, args.domain, log_dir)
            procs.append(bare)
            wait_first_message(bench, _graph.BARE_STATES_TOPIC, bare, args.start_timeout)
            time.sleep(args.warmup)
            check_sole_publisher(bench, _graph.BARE_STATES_TOPIC, 1)
            jitter_b = measure_stream(bench, _graph.BARE_STATES_TOPIC, args.seconds, nominal, bare.pid, args.raw)
            echo = echo_trials(bench, args.echo_trials)
            check_sole_publisher(bench, _graph.BARE_STATES_TOPIC, 1)
            code = bare.stop()
            run_result["baseline"] = {"jitter": jitter_b, "echo": echo, "exit": code}
            run_result["ratios_ours_over_baseline"] = {
                f"{src}.{key}": ratio(jitter[src][key], jitter_b[src][key])
                for src in ("from_stamps", "from_receive")
                for key in ("period_std_ms", "abs_dev_p99_ms", "late_pct", "too_late_pct")
            } | {
                "command_to_state_first_motion_p50_over_floor_p50": ratio(
                    latency["first_motion"].get("p50_ms"), echo["round_trip"].get("p50_ms")),
                "command_to_state_threshold_p50_over_floor_p50": ratio(
                    latency["threshold"].get("p50_ms"), echo["round_trip"].get("p50_ms")),
            }
            results["runs"].append(run_result)
    finally:
        # A second Ctrl-C must not leave nodes behind: cleanup is bounded (Proc.stop escalates
        # to SIGKILL), so signals wait until it is done.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        for proc in reversed(procs):
            proc.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        executor.shutdown(timeout_sec=2.0)
        bench.node.destroy_node()
        rclpy.try_shutdown()
        spinner.join(timeout=2.0)
    results["total_runtime_s"] = time.monotonic() - t_start
    results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="recording window per rate and process (default 8)")
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0], help="loop rates in Hz (default 100 200)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "servo_loop.json"))
    parser.add_argument("--beside-stack", action="store_true",
                        help="run the whole default stack (idle) beside the servo controller")
    parser.add_argument("--stack-settle", type=float, default=15.0,
                        help="with --beside-stack: seconds for the other nodes to come up before recording")
    parser.add_argument("--trials", type=int, default=12, help="command steps per rate (default 12)")
    parser.add_argument("--echo-trials", type=int, default=200, help="echo round trips per rate (default 200)")
    parser.add_argument("--step", type=float, default=0.1, help="head_pan step in rad (default 0.1)")
    parser.add_argument("--threshold", type=float, default=0.001, help="moved-by threshold in rad (default 0.001)")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds per step, for the joint to settle (default 0.5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds after the first message before recording")
    parser.add_argument("--domain", type=int, default=None,
                        help="ROS_DOMAIN_ID for every process (default: a free one in 150..199)")
    parser.add_argument("--discovery", type=float, default=1.5,
                        help="seconds to listen for other nodes on the domain before starting (default 1.5)")
    parser.add_argument("--start-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw", action="store_true", help="also write every stamp and receive time (ns) to the JSON")
    args = parser.parse_args(argv)
    if not 0 < args.step <= 1.0 or args.threshold >= args.step:
        parser.error("--step must be in (0, 1] rad and larger than --threshold")

    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        results = run(args)
    except (KeyboardInterrupt, _Terminated):
        print("[bench] interrupted; processes stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"[bench] failed: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finite(results), indent=2, allow_nan=False, default=str) + "\n", encoding="utf-8")
    print_table(results)
    m = results["machine"]
    others = [r[p]["jitter"]["others_cpu_pct"] for r in results["runs"] for p in ("servo_controller", "baseline")]
    if any(o is not None and o > 30.0 for o in others):
        print("\n[bench] WARNING: other processes used the CPUs during the recording windows "
              "(see others_cpu_pct); jitter numbers include their interference.")
    print(f"\n[bench] {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, {m['platform']}; "
          f"total {results['total_runtime_s']:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
