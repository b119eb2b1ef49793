"""Training a skill's policy as a job: q_learning learns head tracking; dqn and ppo run through a
real JobRunner and register their policy with its ONNX export and contract; a cancel keeps the
checkpoint, a paused or killed job resumes where it left off; bad requests are refused whole."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.jobs import JobStatus
from embodied_ai.model_registry import ModelKind, ModelStatus
from embodied_ai.model_registry.store import file_sha256
from embodied_ai.skills import HEAD_TRACK_ENV_ID, TaskSpec
from embodied_ai.skills.jobs import RL_TRAINING_JOB
from embodied_ai.skills.policy_export import CONTRACT_FORMAT, ONNX_POLICY_FORMAT, OnnxPolicy
from embodied_ai.skills.training import EPISODES_FILE, PolicyTraining
from tests.unit.skills.rl_jobs import DQN, HEAD, PPO, REACH, JobHarness

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[JobHarness]:
    harness = JobHarness(tmp_path)
    harness.runner.start()
    yield harness
    harness.close()


def centred_share(policy: Callable[[int], int], episodes: int = 30) -> float:
    """The share of steps a policy keeps the head centred, on seeds no training used."""
    env = gym.make(HEAD_TRACK_ENV_ID, config=HEAD)
    centred = []
    for k in range(episodes):
        observation, _ = env.reset(seed=10_000 + k)
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(policy(observation))
            centred.append(info["is_success"])
            done = terminated or truncated
    return float(np.mean(centred))


def test_q_learning_tracks_the_target_far_better_than_a_random_policy(jobs: JobHarness) -> None:
    job = jobs.run(RL_TRAINING_JOB, {"name": "head-q", "model_type": "q_learning", "total_episodes": 100,
                                     "env_config": HEAD})
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None
    policy = OnnxPolicy.load(Path(job.result["contract_path"]))
    rng = np.random.default_rng(0)
    learned, random = centred_share(policy.act_one), centred_share(lambda _obs: int(rng.integers(3)))
    # Measured: 0.23 learned against 0.076 random (a greedy controller: 0.67).
    assert learned >= 2 * random and learned >= random + 0.1, (learned, random)


@pytest.mark.parametrize(("model_type", "env_config", "parameters"), [
    ("dqn", REACH, DQN), ("ppo", REACH, PPO)])
def test_dqn_and_ppo_train_as_jobs_and_register_their_policy(
        jobs: JobHarness, model_type: str, env_config: dict[str, Any], parameters: dict[str, Any]) -> None:
    config = {"name": f"skill-{model_type}", "model_type": model_type, "total_episodes": 4, "env_config": env_config,
              "parameters": parameters, "wandb_project": "skills", "wandb_run_name": "tiny", "checkpoint_episodes": 2}
    job = jobs.run(RL_TRAINING_JOB, config)
    assert job.status is JobStatus.COMPLETED, job.error
    result = job.result
    assert result is not None and job.progress == 1.0
    assert (result["task_id"], result["model_type"], result["current_episode"], result["total_episodes"]) == (
        str(job.id), model_type, 4, 4)
    metrics = result["metrics"]
    assert [len(metrics[k]) for k in ("episode_rewards", "episode_steps", "episode_latencies")] == [4, 4, 4]
    assert metrics["episode_steps"] == [10] * 4   # nothing reaches from the start in 10 steps
    assert all(latency > 0 for latency in metrics["episode_latencies"]) and 0 <= result["success_rate"] <= 1
    lines = [line for line in jobs.store.logs(job.id, limit=1000) if line.level.value == "METRIC"]
    assert [line.step for line in lines] == [1, 2, 3, 4]
    assert [line.values["reward"] for line in lines] == metrics["episode_rewards"]

    model = jobs.registry.get(result["model_id"])
    assert (model.kind, model.status, model.name, model.source.job_id) == (
        ModelKind.POLICY, ModelStatus.TRAINED, f"skill-{model_type}", job.id)
    assert model.training_config["wandb_project"] == "skills" and model.training_config["wandb_run_name"] == "tiny"
    assert model.training_config["parameters"]["batch_size"] == parameters["batch_size"]
    onnx, contract = jobs.registry.artefact(model.id, ONNX_POLICY_FORMAT), jobs.registry.artefact(model.id,
                                                                                                 CONTRACT_FORMAT)
    assert onnx.sha256 == file_sha256(onnx.path) == result["onnx_sha256"]
    written = json.loads(contract.path.read_text())
    assert written["onnx_sha256"] == onnx.sha256 and written["model_type"] == model_type
    assert TaskSpec.from_contract(written["task"]).env_id == model.training_config["env"]
    assert result["export_check"]["agreement"] == 1.0


def test_a_cancelled_job_keeps_its_last_checkpoint(jobs: JobHarness) -> None:
    job = jobs.submit(RL_TRAINING_JOB, {"name": "cancelled", "model_type": "q_learning", "total_episodes": 5000,
                                        "env_config": {**HEAD, "max_episode_steps": 3}})
    running = jobs.wait(job, until=lambda j: j.progress >= 3 / 5000)
    status = PolicyTraining(jobs.work_root, jobs.registry).status(running)   # seed 001's view while it runs
    assert status["status"] == "running" and status["current_episode"] >= 3
    assert len(status["metrics"]["episode_rewards"]) == status["current_episode"]
    detail = jobs.runner.kinds[RL_TRAINING_JOB].describe(running, {})   # type: ignore[misc]
    assert detail["current_episode"] >= 3 and len(detail["metrics"]["episode_steps"]) == detail["current_episode"]
    jobs.runner.cancel(job.id)
    job = jobs.wait(job)
    assert job.status is JobStatus.CANCELLED
    checkpoint = jobs.store.last_checkpoint(job.id)
    assert checkpoint is not None and 3 <= checkpoint["episode"] < 5000
    folder = jobs.work_root / f"job-{job.id}"
    assert [(folder / name).is_file() for name in checkpoint["files"]] == [True]
    assert len((folder / EPISODES_FILE).read_text().splitlines()) == checkpoint["episode"]
    assert jobs.registry.list(job_id=job.id)[1] == 0   # nothing registered


def test_a_paused_then_killed_job_resumes_from_its_checkpoint(jobs: JobHarness) -> None:
    total = 100
    job = jobs.submit(RL_TRAINING_JOB, {"name": "resumed", "model_type": "dqn", "total_episodes": total,
                                        "env": HEAD_TRACK_ENV_ID, "env_config": {**HEAD, "max_episode_steps": 3},
                                        "parameters": DQN})
    jobs.wait(job, until=lambda j: j.progress >= 5 / total)
    jobs.runner.stop()                     # the runner stops: the job pauses with a checkpoint
    paused = jobs.store.get(job.id)
    assert paused.status is JobStatus.QUEUED, paused.error
    checkpoint = jobs.store.last_checkpoint(job.id)
    assert checkpoint is not None
    at = checkpoint["episode"]
    assert 5 <= at < total
    # A kill between two checkpoints leaves episodes the checkpoint does not cover, and a cut line.
    episodes = jobs.work_root / f"job-{job.id}" / EPISODES_FILE
    extra = {"reward": 9.0, "steps": 3, "latency_ms": 1.0, "success": 1.0}
    with episodes.open("a") as sink:
        sink.write(json.dumps({"episode": at + 1, **extra}) + "\n" + '{"episode": ')

    jobs.runner = jobs.new_runner()
    jobs.runner.start()
    job = jobs.wait(job)
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None and job.result["current_episode"] == total
    numbers = [json.loads(line)["episode"] for line in episodes.read_text().splitlines()]
    assert numbers == list(range(1, total + 1))
    assert 9.0 not in job.result["metrics"]["episode_rewards"][at:]
    messages = [line.message for line in jobs.store.logs(job.id, limit=1000)]
    assert f"resuming after episode {at} of {total} from its checkpoint" in messages
    steps = [line.step for line in jobs.store.logs(job.id, limit=1000) if line.level.value == "METRIC"]
    assert steps == list(range(1, total + 1))   # no episode counted twice, none skipped
    assert jobs.registry.list(job_id=job.id)[1] == 1


def test_the_status_view_shows_seed_001s_fields(jobs: JobHarness) -> None:
    job = jobs.run(RL_TRAINING_JOB, {"name": "viewed", "model_type": "q_learning", "total_episodes": 3,
                                     "env_config": HEAD})
    status = PolicyTraining(jobs.work_root, jobs.registry).status(job)
    assert {k: status[k] for k in ("task_id", "status", "progress", "current_episode", "total_episodes")} == {
        "task_id": str(job.id), "status": "completed", "progress": 1.0, "current_episode": 3, "total_episodes": 3}
    assert len(status["metrics"]["episode_rewards"]) == 3 and status["model_id"].startswith("mdl_")


def test_bad_requests_are_refused_with_every_problem_listed(jobs: JobHarness) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"name": "x", "model_type": "sarsa", "total_episodes": -5, "parameters": {"learning_rate": 3}},
         ["model_type", "total_episodes", "parameters.learning_rate"]),
        ({"name": "x", "model_type": "q_learning", "env": "embodied/Reach-v0", "total_episodes": 10**9},
         ["total_episodes", "env: q_learning needs a discrete observation and action"]),
        ({"name": "mdl_x", "model_type": "dqn", "total_episodes": 5, "wandb": "x",
          "parameters": {"discount_factor": 1.5, "exploration_rate": 0.1, "exploration_final_rate": 0.5,
                         "hidden_units": [0]}, "env_config": {"max_episode_steps": 0}},
         ["name", "wandb", "parameters.discount_factor", "parameters.exploration_final_rate",
          "parameters.hidden_units.0", "env_config.max_episode_steps"]),
        ({"name": "x", "model_type": "ppo", "total_episodes": 5, "parameters": {"batch_size": 64, "n_steps": 32}},
         ["parameters.batch_size: 64 is more than a rollout's n_steps 32"]),
        ({"model_type": "dqn", "env": "embodied/Reach-v0", "total_episodes": 0,
          "env_config": {"actions": "continuous"}},
         ["name", "env_config.actions: dqn needs discrete actions", "total_episodes"]),
        ({"name": "x", "model_type": "ppo", "total_episodes": 5, "distributed": True},
         ["distributed: rl_training runs on one worker"]),
    ]
    for config, expected in cases:
        with pytest.raises(InvalidRequest) as refused:
            jobs.submit(RL_TRAINING_JOB, config)
        problems = refused.value.problems
        assert len(problems) == len(expected), problems
        for start in expected:
            assert sum(problem.startswith(start) for problem in problems) == 1, (start, problems)
    assert jobs.store.list()[1] == 0   # nothing stored
