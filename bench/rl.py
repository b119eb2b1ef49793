"""Skills environments' overhead: env.step() of embodied/Reach-v0 and embodied/HeadTrack-v0 with seeded
random actions, against a bare loop running the same simulator code for the same controller cycles with the
same joint targets, measured in the same run.

Measured: each environment as a training job makes it (`gym.make(env_id)`: Gymnasium's order-enforcing and
passive checker wrappers around the env, default config), `--episodes` episodes reset with seeds
`seed .. seed + episodes - 1`, each step's action drawn beforehand from the action space seeded `seed`. An
env step is the Gymnasium layer, the task spec's action rule, the controller's streamed-command path for
one control period (`cycles_per_step` cycles at the controller's 200 Hz: Reach 20, HeadTrack 80), the
observation (Reach: forward kinematics twice, noise), the reward and the info.

Baseline: the same work without the env: for each recorded episode a `SimulatedRobot` at the episode's
start pose and a `StreamedServos` on it (the controller's validate / track / gate / write path the env
steps, skills.servos), then for each step the very targets the env streamed (`info["targets"]`):
`stream(targets)` and `advance(cycles_per_step)`. No action rule, observation, reward, wrappers or info.
`same_trajectory` says whether every bare episode ended with the joints exactly where the env's did (the
simulator's joints are deterministic; its seed only moves the IMU noise).

Figures for each side: time inside the steps (`env.step()` calls; stream + advance), time in the resets
(`env.reset()`; building the robot and its stream), steps/s over the steps alone and over steps plus
resets. The ratio is env / bare time per step (1.25: an env step takes 25 % longer than the same cycles
bare), per repeat, the headline their median. An untimed env run comes first (imports, caches, and the
bare loop's episodes), and an untimed bare run; then each repeat runs both sides of each environment, env
first in even repeats and bare first in odd ones, so a drift in the machine's load falls on both alike.
Then, per repeat, a q_learning run of `--q-episodes` episodes on HeadTrack as a training job builds it
(`make_env`, `make_learner` with the default parameters; no job store, log or checkpoints): episodes/s and
steps/s, and its time per step over the random-action env's (resets included on both), which is what the
learner adds. Load averages at the start, after each repeat and at the end.

Then the policy node's control tick against the servo controller's cycle, for a policy of each task
(``POLICY_TASKS``: reach with ppo, reach with dqn on discrete actions, head tracking with q_learning),
trained `--policy-episodes` episodes and exported as the training job does it (`make_env`,
`make_learner`, `learn`, `export_policy` with the config's record; default parameters but for ppo's
rollout and dqn's learning start, so the networks are the deployed size), then loaded as the policy node
loads it (`OnnxPolicy.load`, `PolicyRuntime`). Each runs in a closed loop with the servo controller's
loop body on the simulated robot (bench/_servo.py: `ControlLoop.step` around `ServoController.tick`, as
launch/robot.yaml configures the node, on a simulated clock): per control tick `PolicyRuntime.tick` on
the controller's last status (all joints' positions and velocities, fresh) and the episode's true
target (a new one, from the env reset with the next seed, every `max_episode_steps` ticks; the robot is
not reset), its joint targets streamed to the controller, then one control period of controller cycles
(`cycles_per_step`), each cycle timed. The tick is the task's observation (the env's own `observe`),
ONNX Runtime's inference and `TaskSpec.command`. Per repeat `--ticks` ticks of each policy (an untimed
run of as many first). Figures: median and p99 of the tick and of the cycle (µs, over every repeat),
tick / cycle (the medians' and the p99s' ratio, and per repeat), and the tick as a share of the task's
control period (1 / control_rate_hz) and of one servo period (1 / 200 Hz).

Run: .venv/bin/python bench/rl.py [--repeats 15] [--episodes 5] [--q-episodes 5] [--ticks 60]
     [--policy-episodes 2] [--seed 0] [--quick] [--out bench/results/rl.json]
``--quick`` runs 1 repeat of 2 episodes (2 q_learning episodes; policies trained 1 episode, 5 ticks
each): a smoke run of a few seconds whose figures say little.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.hardware.sim import SimParameters, SimulatedRobot
from embodied_ai.skills import HeadTrackEnv, register_envs
from embodied_ai.skills.base import CONTROLLER_RATE_HZ, SimulatedTaskEnv
from embodied_ai.skills.node_config import PolicyNodeConfig
from embodied_ai.skills.policy_export import OnnxPolicy, export_policy
from embodied_ai.skills.policy_runtime import PolicyRuntime
from embodied_ai.skills.servos import ManualClock, StreamedServos
from embodied_ai.skills.spec import HEAD_TRACK_ENV_ID, REACH_ENV_ID
from embodied_ai.skills.training import make_env, make_learner
from embodied_ai.skills.training_config import RlTrainingConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from _results import git_state, load  # noqa: E402 - what every bench records, beside this file
from _servo import SimulatedServoLoop  # noqa: E402 - the servo controller's cycle on the simulated robot

ENV_IDS = (REACH_ENV_ID, HEAD_TRACK_ENV_ID)
Q_ENV_ID = HEAD_TRACK_ENV_ID        # q_learning's task (a discrete observation and action)
QUICK = {"repeats": 1, "episodes": 2, "q_episodes": 2, "ticks": 5, "policy_episodes": 1}
# The deployed policies: each task's training request but for the episodes and seed. Default parameters
# (the networks' deployed size) but those that only make a few episodes train at all.
POLICY_TASKS: dict[str, dict[str, Any]] = {
    "reach_ppo": {"model_type": "ppo", "env": REACH_ENV_ID, "parameters": {"n_steps": 64, "batch_size": 32}},
    "reach_dqn": {"model_type": "dqn", "env": REACH_ENV_ID, "env_config": {"actions": "discrete"},
                  "parameters": {"learning_starts": 50}},
    "head_track_q_learning": {"model_type": "q_learning", "env": HEAD_TRACK_ENV_ID},
}


@dataclasses.dataclass(frozen=True)
class Episode:
    """One env episode as the bare loop replays it: the robot's start, the targets streamed at each step,
    and where the joints ended (to check the replay)."""

    start: dict[str, float]
    targets: list[dict[str, float]]
    end: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Timing:
    """One run of one side: ``steps`` steps in ``episodes`` episodes."""

    steps: int
    episodes: int
    step_s: float                   # inside the steps
    reset_s: float                  # in the resets (the robot built at each episode's start)

    @property
    def per_step_ms(self) -> float:
        return 1000.0 * self.step_s / self.steps

    @property
    def overall_per_step_ms(self) -> float:
        """Time per step with the resets shared out over the steps."""
        return 1000.0 * (self.step_s + self.reset_s) / self.steps

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "episodes": self.episodes, "step_s": round(self.step_s, 4),
                "reset_s": round(self.reset_s, 4), "steps_per_s": round(self.steps / self.step_s, 2),
                "steps_per_s_with_resets": round(self.steps / (self.step_s + self.reset_s), 2),
                "episodes_per_s": round(self.episodes / (self.step_s + self.reset_s), 3)}


@dataclasses.dataclass(frozen=True)
class QRun:
    """One q_learning run: ``seconds`` for all of it (resets, steps and the table's updates interleave)."""

    episodes: int
    steps: int
    seconds: float

    @property
    def per_step_ms(self) -> float:
        return 1000.0 * self.seconds / self.steps

    def to_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "steps": self.steps, "seconds": round(self.seconds, 4),
                "episodes_per_s": round(self.episodes / self.seconds, 3),
                "steps_per_s": round(self.steps / self.seconds, 2)}


def positions(snapshot: HardwareSnapshot) -> dict[str, float]:
    return {joint: reading.position for joint, reading in snapshot.joints.items()}


def random_actions(env: gym.Env[Any, Any], episodes: int, seed: int) -> list[list[Any]]:
    """Enough seeded random actions for ``episodes`` full-length episodes, drawn before any timing."""
    env.action_space.seed(seed)
    steps = env.unwrapped.task_spec.max_episode_steps    # type: ignore[attr-defined]
    return [[env.action_space.sample() for _ in range(steps)] for _ in range(episodes)]


def run_env(env: gym.Env[Any, Any], actions: list[list[Any]], seed: int) -> tuple[Timing, list[Episode]]:
    """Episode ``k`` reset with ``seed + k`` and stepped with ``actions[k]`` until it ends; its timing and
    the episodes as the bare loop replays them."""
    task_env: SimulatedTaskEnv[Any, Any] = env.unwrapped    # type: ignore[assignment]
    episodes: list[Episode] = []
    step_s = reset_s = 0.0
    steps = 0
    for k, episode_actions in enumerate(actions):
        started = time.perf_counter()
        env.reset(seed=seed + k)
        reset = time.perf_counter()
        start = positions(task_env.servos.snapshot)
        targets: list[dict[str, float]] = []
        for action in episode_actions:
            _, _, terminated, truncated, info = env.step(action)
            targets.append(info["targets"])
            if terminated or truncated:
                break
        ended = time.perf_counter()
        reset_s, step_s, steps = reset_s + reset - started, step_s + ended - reset, steps + len(targets)
        episodes.append(Episode(start, targets, positions(task_env.servos.snapshot)))
    return Timing(steps, len(actions), step_s, reset_s), episodes


def run_bare(env: gym.Env[Any, Any], episodes: list[Episode]) -> tuple[Timing, bool]:
    """``episodes`` replayed on the simulator alone (the env's robot, safety config and cycles per step);
    the timing and whether every episode ended where the env's did."""
    task_env: SimulatedTaskEnv[Any, Any] = env.unwrapped    # type: ignore[assignment]
    description, safety, cycles = task_env.description, task_env.safety, task_env.cycles_per_step
    step_s = reset_s = 0.0
    steps, same = 0, True
    for episode in episodes:
        started = time.perf_counter()
        clock = ManualClock()
        robot = SimulatedRobot(description, parameters=SimParameters(), clock=clock, initial_positions=episode.start)
        servos = StreamedServos(description, safety, robot, clock, CONTROLLER_RATE_HZ)
        reset = time.perf_counter()
        for targets in episode.targets:
            servos.stream(targets)
            servos.advance(cycles)
        ended = time.perf_counter()
        reset_s, step_s, steps = reset_s + reset - started, step_s + ended - reset, steps + len(episode.targets)
        same = same and positions(servos.snapshot) == episode.end
    return Timing(steps, len(episodes), step_s, reset_s), same


def q_learning_config(episodes: int, seed: int) -> RlTrainingConfig:
    """A q_learning job's config as the bridge would send it: defaults but for the episodes and seed."""
    return RlTrainingConfig.parse({"name": "bench-rl", "model_type": "q_learning", "env": Q_ENV_ID,
                                   "total_episodes": episodes, "seed": seed})


def run_q_learning(config: RlTrainingConfig) -> QRun:
    """A fresh learner on a fresh env, as the training job makes them, trained ``total_episodes`` episodes."""
    env = make_env(config)
    try:
        learner = make_learner(config, env)
        steps: list[int] = []
        started = time.perf_counter()
        finished = learner.learn(0, config.total_episodes, lambda record: steps.append(record.steps), lambda: False)
        elapsed = time.perf_counter() - started
    finally:
        env.close()
    return QRun(finished, sum(steps), elapsed)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def p99(values: list[float]) -> float:
    """The 99th percentile, linearly interpolated (at least two values)."""
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def policy_config(name: str, episodes: int, seed: int) -> RlTrainingConfig:
    """``POLICY_TASKS[name]`` as a training job's config, trained ``episodes`` episodes."""
    return RlTrainingConfig.parse({"name": f"bench-{name}", **POLICY_TASKS[name], "total_episodes": episodes,
                                   "seed": seed})


def episode_target(env: gym.Env[Any, Any], seed: int) -> np.ndarray:
    """The true target of the task's episode ``seed`` (base_link, m): where perception would put it."""
    env.reset(seed=seed)
    task_env = env.unwrapped
    return np.array(task_env.target_point if isinstance(task_env, HeadTrackEnv) else task_env.target)  # type: ignore[attr-defined]


class DeployedPolicy:
    """A policy trained and exported as the training job does it, run as the policy node runs it
    (``PolicyRuntime.tick`` once a control period) against the servo controller's loop on the simulated
    robot: each tick reads the controller's last status, its targets are streamed to the controller,
    then the controller runs one control period of cycles."""

    def __init__(self, config: RlTrainingConfig, folder: Path) -> None:
        self.config = config
        self.env = make_env(config)
        task_env: SimulatedTaskEnv[Any, Any] = self.env.unwrapped    # type: ignore[assignment]
        try:
            learner = make_learner(config, self.env)
            learner.learn(0, config.total_episodes, lambda _record: None, lambda: False)
            exported = export_policy(learner.network(), task_env.task_spec, folder, config.model_type,
                                     config.record())
            self.runtime = PolicyRuntime(OnnxPolicy.load(exported.contract_path))
        except BaseException:
            self.env.close()
            raise
        self.servo = SimulatedServoLoop()
        self.cycles_per_tick = task_env.cycles_per_step
        self.episode_ticks = task_env.task_spec.max_episode_steps
        self.stale_after_s = PolicyNodeConfig().stale_after_s
        self.ticks_run = 0
        self.target = np.zeros(3)

    def run(self, ticks: int) -> tuple[list[float], list[float]]:
        """``ticks`` control ticks, each followed by a control period of controller cycles: the seconds each
        tick took, and each cycle."""
        tick_s: list[float] = []
        cycle_s: list[float] = []
        for _ in range(ticks):
            if self.ticks_run % self.episode_ticks == 0:
                self.target = episode_target(self.env, self.config.seed + self.ticks_run // self.episode_ticks)
            status = self.servo.status
            started = time.perf_counter_ns()
            decided = self.runtime.tick(status.positions, status.velocities, self.target, 0.0, self.stale_after_s)
            tick_s.append((time.perf_counter_ns() - started) * 1e-9)
            if decided.targets is None:
                raise RuntimeError(f"{self.config.name}: the policy sent nothing: {decided.reason}")
            self.servo.stream(decided.targets)
            cycle_s.extend(self.servo.cycles(self.cycles_per_tick))
            self.ticks_run += 1
        return tick_s, cycle_s

    def close(self) -> None:
        self.env.close()


@dataclasses.dataclass
class PolicyMeasurements:
    """One deployed policy's ticks and the controller cycles between them, per repeat."""

    name: str
    policy: DeployedPolicy
    ticks: list[list[float]] = dataclasses.field(default_factory=list)
    cycles: list[list[float]] = dataclasses.field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """Medians and p99s of the tick and the cycle (µs), their ratio, and the tick's share of the control
        period and of one servo period (%)."""
        config, runtime, servo = self.policy.config, self.policy.runtime, self.policy.servo
        ticks = [t for run in self.ticks for t in run]
        cycles = [c for run in self.cycles for c in run]
        tick = {"median": statistics.median(ticks), "p99": p99(ticks)}
        cycle = {"median": statistics.median(cycles), "p99": p99(cycles)}
        per_repeat = [round(statistics.median(t) / statistics.median(c), 4) for t, c in zip(self.ticks, self.cycles)]
        return {
            "env_id": config.env_id, "model_type": config.model_type,
            "training": {"episodes": config.total_episodes, "seed": config.seed,
                         "env_config": config.env_settings().model_dump(mode="json"),
                         "parameters": config.resolved_parameters()},
            "control_rate_hz": runtime.spec.control_rate_hz, "control_period_ms": round(1000 * runtime.period_s, 3),
            "servo_rate_hz": round(1.0 / servo.period_s, 3), "cycles_per_tick": self.policy.cycles_per_tick,
            "ticks": len(ticks), "servo_cycles": len(cycles),
            "tick_us": {k: round(1e6 * v, 2) for k, v in tick.items()},
            "servo_cycle_us": {k: round(1e6 * v, 2) for k, v in cycle.items()},
            # policy tick / servo cycle: how many controller cycles' worth of compute one tick costs.
            "ratio_to_servo_cycle": {k: round(tick[k] / cycle[k], 4) for k in tick},
            "ratios_per_repeat": per_repeat, "ratio_median_of_repeats": median(per_repeat),
            "share_of_control_period_pct": {k: round(100 * v / runtime.period_s, 4) for k, v in tick.items()},
            "share_of_servo_period_pct": {k: round(100 * v / servo.period_s, 4) for k, v in tick.items()},
            "servo_cycle_share_of_servo_period_pct": {k: round(100 * v / servo.period_s, 4)
                                                      for k, v in cycle.items()},
        }


@dataclasses.dataclass
class EnvMeasurements:
    """One environment's runs: the untimed warm-up's episodes, then a pair per repeat."""

    env_id: str
    cycles_per_step: int
    control_rate_hz: float
    episodes: list[Episode]
    env: list[Timing] = dataclasses.field(default_factory=list)
    bare: list[Timing] = dataclasses.field(default_factory=list)
    same_trajectory: bool = True    # every bare run ended each episode where the env did
    same_episodes: bool = True      # every timed env run streamed the warm-up's targets

    def figures(self) -> dict[str, Any]:
        """Each side's runs and medians, env / bare per repeat and their medians."""
        per_step = [round(e.per_step_ms / b.per_step_ms, 4) for e, b in zip(self.env, self.bare)]
        overall = [round(e.overall_per_step_ms / b.overall_per_step_ms, 4) for e, b in zip(self.env, self.bare)]
        added = [round(e.per_step_ms - b.per_step_ms, 4) for e, b in zip(self.env, self.bare)]
        medians = {name: {"steps_per_s": median([t.steps / t.step_s for t in runs]),
                          "steps_per_s_with_resets": median([t.steps / (t.step_s + t.reset_s) for t in runs]),
                          "per_step_ms": median([t.per_step_ms for t in runs]),
                          "reset_ms": median([1000.0 * t.reset_s / t.episodes for t in runs])}
                   for name, runs in (("env", self.env), ("bare", self.bare))}
        return {
            "cycles_per_step": self.cycles_per_step, "control_rate_hz": self.control_rate_hz,
            "steps": self.env[0].steps, "episodes": self.env[0].episodes,
            "env": [t.to_dict() for t in self.env], "bare": [t.to_dict() for t in self.bare],
            "medians": medians,
            "ratios_per_repeat": {"per_step": per_step, "with_resets": overall},
            # env / bare time per step: what the env layer adds to a step, as a multiple of the bare cycles.
            "ratio": median(per_step), "ratio_with_resets": median(overall),
            "added_per_step_ms_per_repeat": added, "added_per_step_ms": median(added),
            "same_trajectory": self.same_trajectory, "same_episodes": self.same_episodes,
        }


@dataclasses.dataclass
class Measurements:
    envs: list[EnvMeasurements]
    q_learning: list[QRun] = dataclasses.field(default_factory=list)
    policies: list[PolicyMeasurements] = dataclasses.field(default_factory=list)
    orders: list[list[str]] = dataclasses.field(default_factory=list)
    loads: list[list[float]] = dataclasses.field(default_factory=list)     # after each repeat


def measure(args: argparse.Namespace) -> Measurements:
    """The untimed warm-up of each side, then ``args.repeats`` repeats in alternating order."""
    register_envs()
    envs = {env_id: gym.make(env_id) for env_id in ENV_IDS}
    exports = tempfile.TemporaryDirectory(prefix="bench-rl-")
    found = Measurements([])
    try:
        actions = {env_id: random_actions(env, args.episodes, args.seed) for env_id, env in envs.items()}
        for env_id, env in envs.items():
            warmup, episodes = run_env(env, actions[env_id], args.seed)
            run_bare(env, episodes)
            task_env: SimulatedTaskEnv[Any, Any] = env.unwrapped    # type: ignore[assignment]
            found.envs.append(EnvMeasurements(env_id, task_env.cycles_per_step, task_env.task_spec.control_rate_hz,
                                              episodes))
            print(f"warm-up {env_id}: {warmup.steps} steps in {warmup.episodes} episodes, "
                  f"{task_env.cycles_per_step} controller cycles each", flush=True)
        for name in POLICY_TASKS:
            started = time.perf_counter()
            config = policy_config(name, args.policy_episodes, args.seed)
            found.policies.append(PolicyMeasurements(name, DeployedPolicy(config, Path(exports.name) / name)))
            found.policies[-1].policy.run(args.ticks)
            print(f"policy {name}: trained {config.total_episodes} episodes, exported and warmed up in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        for repeat in range(args.repeats):
            order = ["env", "bare"] if repeat % 2 == 0 else ["bare", "env"]
            for measured in found.envs:
                env = envs[measured.env_id]
                for which in order:
                    gc.collect()
                    if which == "env":
                        timing, episodes = run_env(env, actions[measured.env_id], args.seed)
                        measured.env.append(timing)
                        measured.same_episodes &= [e.targets for e in episodes] == \
                            [e.targets for e in measured.episodes]
                    else:
                        timing, same = run_bare(env, measured.episodes)
                        measured.bare.append(timing)
                        measured.same_trajectory &= same
            gc.collect()
            found.q_learning.append(run_q_learning(q_learning_config(args.q_episodes, args.seed)))
            for policy in found.policies:
                gc.collect()
                ticks, cycles = policy.policy.run(args.ticks)
                policy.ticks.append(ticks)
                policy.cycles.append(cycles)
            found.orders.append(order)
            found.loads.append(load())
            shown = ", ".join(f"{m.env_id} env {m.env[-1].steps / m.env[-1].step_s:.0f} / bare "
                              f"{m.bare[-1].steps / m.bare[-1].step_s:.0f} steps/s" for m in found.envs)
            ticked = ", ".join(f"{p.name} {1e6 * statistics.median(p.ticks[-1]):.0f}" for p in found.policies)
            print(f"repeat {repeat + 1}/{args.repeats} ({' then '.join(order)}): {shown}; q_learning "
                  f"{found.q_learning[-1].episodes / found.q_learning[-1].seconds:.2f} episodes/s; policy tick µs "
                  f"{ticked}; load {found.loads[-1][0]}", flush=True)
    finally:
        for env in envs.values():
            env.close()
        for policy in found.policies:
            policy.policy.close()
        exports.cleanup()
    return found


def q_learning_figures(runs: list[QRun], random_env: EnvMeasurements) -> dict[str, Any]:
    """q_learning's episodes/s and steps/s, and its time per step over the random-action env's (both with
    their resets), per repeat and the median."""
    ratios = [round(q.per_step_ms / e.overall_per_step_ms, 4) for q, e in zip(runs, random_env.env)]
    return {"env_id": Q_ENV_ID, "episodes": runs[0].episodes, "steps": runs[0].steps,
            "runs": [t.to_dict() for t in runs],
            "episodes_per_s": median([t.episodes / t.seconds for t in runs]),
            "steps_per_s": median([t.steps / t.seconds for t in runs]),
            "ratios_per_repeat_to_random_env": ratios, "ratio_to_random_env": median(ratios)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="measured pairs per environment (after a warm-up)")
    parser.add_argument("--episodes", type=int, default=5, help="episodes of each side per repeat and environment")
    parser.add_argument("--q-episodes", type=int, default=5, help="episodes of the q_learning run of each repeat")
    parser.add_argument("--ticks", type=int, default=60, help="control ticks of each deployed policy per repeat")
    parser.add_argument("--policy-episodes", type=int, default=2, help="training episodes of each deployed policy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run ({', '.join(f'{k} {v}' for k, v in QUICK.items())}); overrides those")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rl.json")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    if min(args.repeats, args.episodes, args.q_episodes, args.policy_episodes) < 1 or args.ticks < 2 or args.seed < 0:
        parser.error("--repeats, --episodes, --q-episodes and --policy-episodes must be at least 1, --ticks at "
                     "least 2, --seed at least 0")

    load_start, started_at, started = load(), dt.datetime.now(dt.timezone.utc), time.monotonic()
    print(f"load average at start: {load_start}", flush=True)
    found = measure(args)
    load_end = load()
    per_env = {m.env_id: m.figures() for m in found.envs}
    q_learning = q_learning_figures(found.q_learning, next(m for m in found.envs if m.env_id == Q_ENV_ID))
    policies = {p.name: p.figures() for p in found.policies}
    report = {
        "benchmark": "rl",
        "utc": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "load_average_start": load_start, "load_average_end": load_end,
        "load_average_after_each_repeat": found.loads,
        "git": git_state(),
        "config": {"repeats": args.repeats, "episodes": args.episodes, "q_episodes": args.q_episodes,
                   "seed": args.seed, "quick": args.quick, "controller_rate_hz": CONTROLLER_RATE_HZ,
                   "env_config": "defaults", "q_learning_parameters": q_learning_config(1, 0).resolved_parameters(),
                   "ticks": args.ticks, "policy_episodes": args.policy_episodes, "policy_tasks": POLICY_TASKS},
        "orders": found.orders,
        "envs": per_env,
        "q_learning": q_learning,
        "policies": policies,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'':24}{'env steps/s':>12}{'bare steps/s':>13}{'env/bare':>9}{'added ms':>9}{'w/ resets':>10}"
          f"   (medians of {args.repeats})")
    for env_id, figures in per_env.items():
        medians = figures["medians"]
        print(f"{env_id:24}{medians['env']['steps_per_s']:>12.1f}{medians['bare']['steps_per_s']:>13.1f}"
              f"{figures['ratio']:>9.3f}{figures['added_per_step_ms']:>9.3f}{figures['ratio_with_resets']:>10.3f}"
              f"   same trajectory: {figures['same_trajectory']}")
    print(f"q_learning on {Q_ENV_ID}, {args.q_episodes} episodes: {q_learning['episodes_per_s']:.2f} episodes/s, "
          f"{q_learning['steps_per_s']:.1f} steps/s, {q_learning['ratio_to_random_env']:.3f}x the random-action "
          f"env's time per step")
    print(f"\npolicy tick vs servo cycle, µs (median / p99 over {args.repeats} x {args.ticks} ticks)")
    print(f"{'':24}{'Hz':>5}{'tick':>18}{'servo cycle':>18}{'tick/cycle':>14}{'% control period':>18}"
          f"{'% servo period':>16}")
    for name, figures in policies.items():
        columns = [figures[key] for key in ("tick_us", "servo_cycle_us", "ratio_to_servo_cycle",
                                            "share_of_control_period_pct", "share_of_servo_period_pct")]
        cells = [f"{column['median']:.2f} / {column['p99']:.2f}" for column in columns]
        print(f"{name:24}{figures['control_rate_hz']:>5g}"
              + "".join(f"{cell:>{width}}" for cell, width in zip(cells, (18, 18, 14, 18, 16))))
    print(f"load {load_start[0]} -> {load_end[0]}; {report['seconds']} s; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
