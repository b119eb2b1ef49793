"""Train the reference reaching policy (PPO on embodied/Reach-v0) and export it with its contract:
what `bench/reach_graph.py` deploys to the simulated robots and measures through the graph.

    .venv/bin/python scripts/train_reach_policy.py                # ~3000 episodes, ~8 min on one core
    .venv/bin/python scripts/train_reach_policy.py --episodes 4 --out /tmp/reach   # a smoke run

The same training as an `rl_training` job (RlTrainingConfig, the job's learner and ONNX export),
without the job system: the result is a folder with policy.onnx, policy.contract.json and
training.json (the config and the success rate on 50 held-out seeds, measured in the environment).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from embodied_ai.skills import REACH_ENV_ID
from embodied_ai.skills.policy_export import OnnxPolicy, export_policy
from embodied_ai.skills.training import make_env, make_learner
from embodied_ai.skills.training_config import RlTrainingConfig

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "models" / "skills" / "reach_ppo"
PARAMETERS = {"n_steps": 1024, "batch_size": 64, "epochs": 10, "learning_rate": 3e-4}
HELD_OUT_SEED = 900_000   # evaluation seeds: none of training's (which start at the config's seed)


def held_out_episodes(policy: OnnxPolicy, episodes: int) -> tuple[list[bool], list[int]]:
    """Each held-out episode's success and length, for the exported policy (deterministic)."""
    env = gym.make(REACH_ENV_ID)
    successes, steps = [], []
    for k in range(episodes):
        observation, _ = env.reset(seed=HELD_OUT_SEED + k)
        done, count, info = False, 0, {}
        while not done:
            observation, _, terminated, truncated, info = env.step(policy.act_one(observation))
            done, count = terminated or truncated, count + 1
        successes.append(bool(info["is_success"]))
        steps.append(count)
    return successes, steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate", type=int, default=50, help="held-out episodes measured after training")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    request: dict[str, Any] = {"name": "reach_ppo", "model_type": "ppo", "total_episodes": args.episodes,
                               "seed": args.seed, "parameters": PARAMETERS}
    config = RlTrainingConfig.parse(request)
    env = make_env(config)
    learner = make_learner(config, env)
    started, done = time.monotonic(), [0]

    def on_episode(record: Any) -> None:
        done[0] += 1
        if done[0] % 100 == 0:
            print(f"episode {done[0]}: reward {record.reward:.2f}, steps {record.steps}, "
                  f"{time.monotonic() - started:.0f} s", flush=True)

    learner.learn(0, config.total_episodes, on_episode, lambda: False)
    spec = env.unwrapped.task_spec   # type: ignore[attr-defined]
    exported = export_policy(learner.network(), spec, args.out, "ppo", config.record())
    successes, steps = held_out_episodes(OnnxPolicy.load(exported.contract_path), args.evaluate)
    summary = {"request": request, "episodes": args.episodes, "training_s": round(time.monotonic() - started, 1),
               "held_out_episodes": args.evaluate, "held_out_success_rate": float(np.mean(successes)),
               "held_out_mean_steps": float(np.mean(steps)), "held_out_successes": successes,
               "success_tolerance_m": spec.success.tolerance, "onnx_sha256": exported.sha256}
    (args.out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
