"""The job system as the jobs node opens it, without a graph: every kind registered, recovery at
start (an expert left training by a job that will not resume is released), datasets and training
on one state directory, and a clean close."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.registry import ExpertRegistry
from embodied_ai.jobs.config import JobsNodeConfig
from embodied_ai.jobs.system import JobSystem


def never_built() -> BuiltBase:
    raise AssertionError("nothing here trains: the base must not be built")


def test_open_start_and_close_on_one_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    experts = ExpertRegistry(state)
    experts.create("math", "Arithmetic", "math", status="ready")
    experts.set_status("math", "training")   # as a crashed process left it, with no job to finish it
    experts.close()

    system = JobSystem.open(JobsNodeConfig(state_dir=str(state), poll_s=0.1), base=never_built)
    try:
        assert set(system.runner.kinds) == {"training", "pipeline", "batch_inference", "batch_processing", "rl_training",
                                            "rl_reconcile", "policy_deployment", "policy_undeployment"}
        assert system.start() == []
        assert system.experts.get("math").status == "initializing"   # released: it has no version
        dataset = system.datasets.add(b'{"prompt": "1 + 1", "completion": "2"}\n', "sums.jsonl", expert="math")
        job = system.jobs.submit("training", f'{{"expert_id": "math", "dataset_id": {dataset.id}, "max_steps": 1}}')
        assert job.type == "training" and system.training.status(job).status == "queued"
        system.jobs.cancel(job.id)
        with pytest.raises(EmbodiedError) as unknown:
            system.jobs.submit("training", '{"expert_id": "nobody"}')
        assert unknown.value.code is ErrorCode.EXPERT_NOT_FOUND
        # Without the experts node's generate, batch inference runs and says why each prompt failed.
        batch = system.jobs.submit("batch_inference", '{"prompts": ["hello"]}')
        deadline = time.monotonic() + 30
        while not (batch := system.jobs.get(batch.id)).status.terminal:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert batch.result is not None and batch.result["failed"] == 1
        assert batch.result["outputs"][0]["error"]["code"] == ErrorCode.EXPERT_NOT_READY
    finally:
        assert system.close(timeout_s=30)
    assert (state / "operations.sqlite").is_file()
