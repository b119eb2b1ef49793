"""A registered policy run as the policy node runs it: from the registry, on measured joint states and
a target, to joint targets inside the limits that match what the training environment's policy
would command; stale inputs send nothing; a policy for another robot is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.skills import HeadTrackEnv
from embodied_ai.skills.jobs import RL_TRAINING_JOB
from embodied_ai.skills.policy_export import CONTRACT_FORMAT, OnnxPolicy
from embodied_ai.skills.policy_runtime import PolicyRuntime
from embodied_ai.skills.spec import HEAD_PAN
from tests.unit.skills.rl_jobs import HEAD, JobHarness


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JobHarness, str]]:
    """A tiny q_learning policy trained and registered through the real job system."""
    harness = JobHarness(tmp_path_factory.mktemp("runtime"))
    harness.runner.start()
    job = harness.wait(harness.submit(RL_TRAINING_JOB, {"name": "track", "model_type": "q_learning",
                                                         "total_episodes": 5, "env_config": HEAD, "seed": 1}))
    assert job.result is not None, job.error
    yield harness, str(job.result["model_id"])
    harness.close()


def test_a_tick_commands_what_the_policy_chooses_inside_the_limits(trained: tuple[JobHarness, str]) -> None:
    harness, model_id = trained
    runtime = PolicyRuntime.from_registry(harness.registry, model_id)
    assert runtime.period_s == pytest.approx(1 / HEAD["control_rate_hz"]) and runtime.joints == [HEAD_PAN]
    env = HeadTrackEnv(HEAD)
    target = np.array([0.4, 0.2, 0.75])
    for pan in np.linspace(-1.4, 1.4, 15):
        tick = runtime.tick({HEAD_PAN: float(pan)}, {HEAD_PAN: 0.0}, target, joint_state_age_s=0.01,
                            stale_after_s=0.2)
        assert tick.targets is not None
        joint = runtime.spec.joints[0]
        assert joint.lower_rad <= tick.targets[HEAD_PAN] <= joint.upper_rad
        expected = runtime.spec.command(runtime.policy.act_one(env.observe({HEAD_PAN: float(pan)}, {}, target)),
                                        {HEAD_PAN: float(pan)})
        assert tick.targets == expected


def test_stale_or_missing_inputs_send_nothing(trained: tuple[JobHarness, str]) -> None:
    harness, model_id = trained
    runtime = PolicyRuntime.from_registry(harness.registry, model_id)
    target = np.array([0.4, 0.2, 0.75])
    assert runtime.tick({HEAD_PAN: 0.0}, {HEAD_PAN: 0.0}, target, 0.5, 0.2).targets is None   # stale
    assert runtime.tick(None, None, target, 0.0, 0.2).targets is None
    assert "no target" in runtime.tick({HEAD_PAN: 0.0}, {HEAD_PAN: 0.0}, None, 0.0, 0.2).reason
    assert "lack" in runtime.tick({"elbow_pitch_r": 0.0}, {}, target, 0.0, 0.2).reason


def test_a_policy_for_another_robot_is_refused(trained: tuple[JobHarness, str], tmp_path: Path) -> None:
    harness, model_id = trained
    artefact = harness.registry.artefact(model_id, CONTRACT_FORMAT)
    contract = json.loads(Path(artefact.path).read_text())
    contract["task"]["joints"][0]["upper_rad"] = 3.0   # trained with other limits
    (tmp_path / "policy.contract.json").write_text(json.dumps(contract))
    onnx = Path(artefact.path).parent / contract["onnx_file"]
    with pytest.raises(InvalidRequest) as refused:
        PolicyRuntime(OnnxPolicy.load(tmp_path / "policy.contract.json", onnx))
    assert any("joints" in p for p in refused.value.problems)
    harness.registry.register("expert_like", "expert_adapter")
    with pytest.raises(InvalidRequest):   # not a policy
        PolicyRuntime.from_registry(harness.registry, "expert_like")
