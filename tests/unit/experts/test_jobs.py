"""Training jobs as a caller follows them: a goal's zeros mean the defaults, what a completed,
stopped or failed job means for the caller, and a real job followed, cancelled and refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.jobs import FollowedJob, TrainingGoal, training_outcome
from embodied_ai.experts.service import ExpertService
from embodied_ai.experts.training import TrainingConfig, TrainingStatus

pytestmark = pytest.mark.timeout(1500)  # the first test may build the base into the cache


def test_zeros_in_a_goal_mean_the_defaults() -> None:
    defaults = TrainingConfig()
    config = TrainingGoal("math").config()
    assert (config.learning_rate, config.batch_size, config.num_epochs, config.max_steps) == (
        defaults.learning_rate, defaults.batch_size, 1.0, -1)
    assert (config.gradient_accumulation, config.lora_rank, config.use_lora, config.scratch_shape) == (
        1, defaults.lora_rank, True, None)
    assert config.log_steps == 1  # every step is progress the caller sees


def test_given_values_and_a_new_shape_pass_through() -> None:
    config = TrainingGoal("math", learning_rate=1e-3, batch_size=4, num_epochs=2.0, max_steps=30, warmup_steps=3,
                          gradient_accumulation=2, use_lora=False, lora_rank=4, d_model=64, n_layers=2,
                          n_heads=2).config()
    assert (config.learning_rate, config.batch_size, config.num_epochs, config.max_steps, config.warmup_steps,
            config.gradient_accumulation, config.use_lora, config.lora_rank) == (1e-3, 4, 2.0, 30, 3, 2, False, 4)
    assert config.scratch_shape == {"d_model": 64, "n_layers": 2, "n_heads": 2, "d_ff": 256}
    assert TrainingGoal("math", use_lora=True, d_model=64).config().scratch_shape is None  # a shape is for scratch only
    with pytest.raises(EmbodiedError) as bad_shape:
        TrainingGoal("math", use_lora=False, d_model=100, n_layers=1, n_heads=3).config()
    assert bad_shape.value.code is ErrorCode.EXPERT_CREATION_FAILED


def _status(state: str, **values: object) -> TrainingStatus:
    status = TrainingStatus(job_id="math-1", expert="math", status=state)
    for name, value in values.items():
        setattr(status, name, value)
    return status


@pytest.mark.parametrize("status, version, cancel_requested, expected", [
    (_status("completed", checkpoint="ckpt"), 3, False,
     ("succeeded", ErrorCode.OK, "version 3 of 'math' registered", 3, True)),
    (_status("stopped", recent_logs=["stopped at step 4; checkpoint saved"], checkpoint="ckpt"), 0, True,
     ("canceled", ErrorCode.OK, "stopped at step 4; checkpoint saved", 0, True)),
    (_status("stopped"), None, True, ("canceled", ErrorCode.OK, "stopped", 0, False)),
    # Stopped by something else than the caller (a restart): the caller's goal failed.
    (_status("stopped"), None, False, ("aborted", ErrorCode.TRAINING_FAILED, "the job ended stopped", 0, False)),
    (_status("failed", error="out of memory"), None, False,
     ("aborted", ErrorCode.TRAINING_FAILED, "out of memory", 0, False)),
])
def test_what_an_ended_job_means_for_its_caller(status: TrainingStatus, version: int | None, cancel_requested: bool,
                                                expected: tuple) -> None:
    outcome = training_outcome(status, version, cancel_requested)
    assert (outcome.ending, outcome.error_code, outcome.message, outcome.version, outcome.checkpoint_saved) == expected
    assert outcome.status == status.status


def _scratch_expert(service: ExpertService) -> str:
    """A tiny expert of its own shape (a step takes milliseconds) with a registered dataset."""
    service.create_expert("tiny", "Arithmetic", "math", shape={"d_model": 32, "n_layers": 1, "n_heads": 2})
    uploads = service.state_dir / "datasets"
    uploads.mkdir(parents=True, exist_ok=True)
    rows = "".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n" for i in range(24))
    (uploads / "sums.jsonl").write_text(rows)
    service.register_dataset(uploads / "sums.jsonl", "tiny", "sums")
    return "tiny"


def test_a_followed_job_reports_progress_and_stops_when_cancelled(service: ExpertService) -> None:
    expert = _scratch_expert(service)
    job = FollowedJob(service, TrainingGoal(expert, max_steps=100_000, batch_size=4, use_lora=False))
    progress: list[tuple[str, int]] = []  # as reported (the job's status object changes afterwards)
    outcome = job.follow(lambda status: progress.append((status.status, status.current_step)),
                         cancel_requested=lambda: any(step >= 2 for _, step in progress), poll_s=0.05)
    assert (outcome.ending, outcome.status, outcome.error_code, outcome.version) == ("canceled", "stopped",
                                                                                      ErrorCode.OK, 0)
    assert progress[0][0] in ("queued", "running") and progress[-1][1] >= 2
    assert outcome.checkpoint_saved
    assert service.registry.job(job.id).job_key == job.started.job.request.job_id
    assert service.registry.get(expert).status == "initializing"  # no version yet: as before the job


def test_a_job_the_service_refuses_does_not_start(service: ExpertService, tmp_path: Path) -> None:
    with pytest.raises(EmbodiedError) as no_dataset:
        FollowedJob(service, TrainingGoal("general"))
    assert no_dataset.value.code is ErrorCode.DATASET_INVALID
    expert = _scratch_expert(service)
    service.registry.set_status(expert, "training")
    with pytest.raises(EmbodiedError) as busy:
        FollowedJob(service, TrainingGoal(expert, use_lora=False))
    assert busy.value.code is ErrorCode.EXPERT_NOT_READY
