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

Run: .venv/bin/python bench/rl.py [--repeats 15] [--episodes 5] [--q-episodes 5] [--seed 0]
     [--quick] [--out bench/results/rl.json]
``--quick`` runs 1 repeat of 2 episodes (2 q_learning episodes): a smoke run of a few seconds whose
figures say little.
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
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.hardware.sim import SimParameters, SimulatedRobot
from embodied_ai.skills import register_envs
from embodied_ai.skills.base import CONTROLLER_RATE_HZ, SimulatedTaskEnv
from embodied_ai.skills.servos import ManualClock, StreamedServos
from embodied_ai.skills.spec import HEAD_TRACK_ENV_ID, REACH_ENV_ID
from embodied_ai.skills.training import make_env, make_learner
from embodied_ai.skills.training_config import RlTrainingConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from _results import git_state, load  # noqa: E402 - what every bench records, beside this file

ENV_IDS = (REACH_ENV_ID, HEAD_TRACK_ENV_ID)
Q_ENV_ID = HEAD_TRACK_ENV_ID        # q_learning's task (a discrete observation and action)
QUICK = {"repeats": 1, "episodes": 2, "q_episodes": 2}


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
    orders: list[list[str]] = dataclasses.field(default_factory=list)
    loads: list[list[float]] = dataclasses.field(default_factory=list)     # after each repeat


def measure(args: argparse.Namespace) -> Measurements:
    """The untimed warm-up of each side, then ``args.repeats`` repeats in alternating order."""
    register_envs()
    envs = {env_id: gym.make(env_id) for env_id in ENV_IDS}
    try:
        actions = {env_id: random_actions(env, args.episodes, args.seed) for env_id, env in envs.items()}
        found = Measurements([])
        for env_id, env in envs.items():
            warmup, episodes = run_env(env, actions[env_id], args.seed)
            run_bare(env, episodes)
            task_env: SimulatedTaskEnv[Any, Any] = env.unwrapped    # type: ignore[assignment]
            found.envs.append(EnvMeasurements(env_id, task_env.cycles_per_step, task_env.task_spec.control_rate_hz,
                                              episodes))
            print(f"warm-up {env_id}: {warmup.steps} steps in {warmup.episodes} episodes, "
                  f"{task_env.cycles_per_step} controller cycles each", flush=True)
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
            found.orders.append(order)
            found.loads.append(load())
            shown = ", ".join(f"{m.env_id} env {m.env[-1].steps / m.env[-1].step_s:.0f} / bare "
                              f"{m.bare[-1].steps / m.bare[-1].step_s:.0f} steps/s" for m in found.envs)
            print(f"repeat {repeat + 1}/{args.repeats} ({' then '.join(order)}): {shown}; q_learning "
                  f"{found.q_learning[-1].episodes / found.q_learning[-1].seconds:.2f} episodes/s; "
                  f"load {found.loads[-1][0]}", flush=True)
    finally:
        for env in envs.values():
            env.close()
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run ({', '.join(f'{k} {v}' for k, v in QUICK.items())}); overrides those")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rl.json")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    if args.repeats < 1 or args.episodes < 1 or args.q_episodes < 1 or args.seed < 0:
        parser.error("--repeats, --episodes and --q-episodes must be at least 1, --seed at least 0")

    load_start, started_at, started = load(), dt.datetime.now(dt.timezone.utc), time.monotonic()
    print(f"load average at start: {load_start}", flush=True)
    found = measure(args)
    load_end = load()
    per_env = {m.env_id: m.figures() for m in found.envs}
    q_learning = q_learning_figures(found.q_learning, next(m for m in found.envs if m.env_id == Q_ENV_ID))
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
                   "env_config": "defaults", "q_learning_parameters": q_learning_config(1, 0).resolved_parameters()},
        "orders": found.orders,
        "envs": per_env,
        "q_learning": q_learning,
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
          f"env's time per step; load {load_start[0]} -> {load_end[0]}; {report['seconds']} s; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
