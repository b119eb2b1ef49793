"""A trained policy's ONNX export: for each model type the graph chooses the training-time
policy's actions on 1 000 recorded observations; normalisation and clipping are inside the graph;
the contract describes it and a graph that is not the contract's is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import onnx
import pytest
import torch

from embodied_ai.errors import InvalidRequest
from embodied_ai.model_registry.store import file_sha256
from embodied_ai.skills import HEAD_TRACK_ENV_ID, REACH_ENV_ID, TaskSpec
from embodied_ai.skills.policy_export import (
    ACTION_TOLERANCE,
    CONTRACT_FILE,
    ExportedPolicy,
    OnnxPolicy,
    compare_actions,
    export_policy,
)
from embodied_ai.skills.training import Learner, make_env, make_learner
from embodied_ai.skills.training_config import RlTrainingConfig
from tests.unit.skills.rl_jobs import DQN, HEAD, PPO, REACH

pytestmark = pytest.mark.timeout(300)

RECORDED = 1000
TRAINING = {
    "q_learning": {"model_type": "q_learning", "total_episodes": 30, "env_config": HEAD},
    "dqn": {"model_type": "dqn", "total_episodes": 8, "env_config": REACH, "parameters": DQN},   # discrete reaching
    "dqn_head_tracking": {"model_type": "dqn", "env": HEAD_TRACK_ENV_ID, "total_episodes": 8, "env_config": HEAD,
                          "parameters": DQN},
    "ppo": {"model_type": "ppo", "total_episodes": 8, "env_config": REACH, "parameters": PPO},
    "ppo_head_tracking": {"model_type": "ppo", "env": HEAD_TRACK_ENV_ID, "total_episodes": 4, "env_config": HEAD,
                          "parameters": PPO},
}


def record_observations(env_id: str, env_config: dict[str, Any], count: int) -> np.ndarray:
    """``count`` observations met in episodes of random actions, on seeds of their own."""
    env = gym.make(env_id, config=env_config)
    env.action_space.seed(5)
    observations = []
    observation, _ = env.reset(seed=5_000)
    while len(observations) < count:
        observations.append(observation)
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            observation, _ = env.reset(seed=5_000 + len(observations))
    return np.asarray(observations)


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    return {HEAD_TRACK_ENV_ID: record_observations(HEAD_TRACK_ENV_ID, HEAD, RECORDED),
            REACH_ENV_ID: record_observations(REACH_ENV_ID, REACH, RECORDED)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Learner, ExportedPolicy, TaskSpec]]:
    """Each model type (and ppo on both tasks) trained a few episodes and exported."""
    done = {}
    for name, request in TRAINING.items():
        config = RlTrainingConfig.parse({"name": "policy", **request})
        env = make_env(config)
        learner = make_learner(config, env)
        assert learner.learn(0, config.total_episodes, lambda _record: None, lambda: False) == config.total_episodes
        spec: TaskSpec = env.unwrapped.task_spec   # type: ignore[attr-defined]
        exported = export_policy(learner.network(), spec, tmp_path_factory.mktemp(name), config.model_type,
                                 {"name": name})
        done[name] = (learner, exported, spec)
    return done


@pytest.mark.parametrize("trained_as", list(TRAINING))
def test_the_onnx_policy_chooses_the_training_time_actions_on_1000_recorded_observations(
        trained: dict[str, tuple[Learner, ExportedPolicy, TaskSpec]], recorded: dict[str, np.ndarray],
        trained_as: str) -> None:
    learner, exported, spec = trained[trained_as]
    observations = recorded[spec.env_id]
    assert len(observations) == RECORDED
    policy = OnnxPolicy.load(exported.contract_path)
    expected, actual = learner.act(observations), policy.act(observations)
    if spec.action.kind == "discrete":
        assert actual.dtype == np.int64 and np.array_equal(actual, expected)
    else:
        assert actual.shape == (RECORDED, 3) and np.max(np.abs(actual - expected)) <= ACTION_TOLERANCE
    agreement = compare_actions(learner.act, policy, observations)
    assert (agreement.observations, agreement.agreement) == (RECORDED, 1.0)
    one = observations[0]
    assert np.array_equal(np.asarray(policy.act_one(one)), np.asarray(actual[0]))


def test_the_graph_normalises_observations_and_clips_actions(recorded: dict[str, np.ndarray], tmp_path: Path) -> None:
    config = RlTrainingConfig.parse({"name": "clipped", **TRAINING["ppo"]})
    env = make_env(config)
    learner = make_learner(config, env)
    action_net = learner.model.policy.action_net   # type: ignore[attr-defined]
    with torch.no_grad():   # a mean far outside [-1, 1] on the first joint, inside on the others
        action_net.bias.copy_(torch.tensor([3.0, -0.2, 0.2]))
    exported = export_policy(learner.network(), env.unwrapped.task_spec, tmp_path, "ppo", {})  # type: ignore[attr-defined]
    graph = onnx.load(str(exported.onnx_path)).graph
    assert [n.op_type for n in graph.node][:2] == ["Sub", "Mul"] and graph.node[-1].op_type == "Clip"
    observations = recorded[REACH_ENV_ID]
    actions = OnnxPolicy.load(exported.contract_path).act(observations)
    assert np.all(actions[:, 0] == 1.0) and np.all(np.abs(actions[:, 1:]) < 1.0)
    assert np.max(np.abs(actions - learner.act(observations))) <= ACTION_TOLERANCE   # sb3's predict clips the same


@pytest.mark.parametrize(("model_type", "input_dtype", "output_shape"), [
    ("q_learning", "int64", ["batch"]), ("ppo", "float32", ["batch", 3])])
def test_the_contract_describes_the_graph_and_the_task(
        trained: dict[str, tuple[Learner, ExportedPolicy, TaskSpec]], model_type: str, input_dtype: str,
        output_shape: list[Any]) -> None:
    _learner, exported, spec = trained[model_type]
    contract = json.loads(exported.contract_path.read_text())
    assert exported.contract_path.name == CONTRACT_FILE and exported.onnx_path.parent == exported.contract_path.parent
    assert contract["onnx_sha256"] == file_sha256(exported.onnx_path) == exported.sha256
    assert (contract["model_type"], contract["input"]["name"], contract["input"]["dtype"]) == (
        model_type, "observation", input_dtype)
    assert (contract["output"]["name"], contract["output"]["shape"]) == ("action", output_shape)
    assert TaskSpec.from_contract(contract["task"]) == spec   # order, units, limits, control rate
    assert contract["task"]["control_rate_hz"] == spec.control_rate_hz
    if model_type == "ppo":
        low, high = spec.observation_low(), spec.observation_high()
        assert contract["observation_scaling"]["centre"] == pytest.approx((low + high) / 2)
        assert contract["action_clip"] == [-1.0, 1.0]
    else:
        assert contract["observation_scaling"] is None and contract["action_clip"] is None


def test_a_graph_that_is_not_the_contracts_is_refused(
        trained: dict[str, tuple[Learner, ExportedPolicy, TaskSpec]], tmp_path: Path) -> None:
    _learner, exported, _spec = trained["dqn"]
    other = trained["q_learning"][1].onnx_path
    with pytest.raises(InvalidRequest) as refused:
        OnnxPolicy.load(exported.contract_path, onnx_path=other)
    assert refused.value.problems[0].startswith("onnx_sha256:")
    broken = tmp_path / CONTRACT_FILE
    contract = json.loads(exported.contract_path.read_text())
    broken.write_text(json.dumps({**contract, "opset": "x", "input": {}}))
    with pytest.raises(InvalidRequest) as invalid:
        OnnxPolicy.load(broken)
    assert len(invalid.value.problems) == 4   # opset, input.name, input.dtype, input.shape
