"""Training runs: progress, stop with a checkpoint, resume without losing data or steps; the
service's refusals (serving expert, unknown expert, empty prompt) with Robot API codes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.service import ExpertService
from embodied_ai.experts.training import TrainingConfig, TrainingJob, TrainingRequest

# The first test may build the base into the cache (scripts/setup.sh normally has); a busy 2-core
# machine needs more than the default 300 s for that.
pytestmark = pytest.mark.timeout(1500)

# A model trained from scratch at this size runs a step in milliseconds.
TINY_SHAPE = {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64}


def _dataset(path: Path, rows: int = 24) -> Path:
    path.write_text("".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n"
                            for i in range(rows)))
    return path


def _scratch_config(**overrides: object) -> TrainingConfig:
    values = dict(use_lora=False, scratch_shape=TINY_SHAPE, max_steps=6, save_steps=2, log_steps=1, batch_size=4,
                  warmup_steps=0, learning_rate=1e-3)
    values.update(overrides)
    return TrainingConfig(**values)  # type: ignore[arg-type]


def test_stop_saves_a_checkpoint_and_resume_finishes(base: BuiltBase, tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "upload.jsonl")
    job = TrainingJob(TrainingRequest("job1", "math", dataset, base.train_hf_dir, _scratch_config()), tmp_path / "jobs")
    job.on_progress = lambda status: job.stop() if status.current_step >= 3 else None
    stopped = job.run()
    assert stopped.status == "stopped"
    checkpoint = job.latest_checkpoint()
    assert checkpoint is not None and int(checkpoint.name.split("-")[1]) >= 3
    dataset.unlink()  # the upload is gone: the job trains on its own copy
    reloaded = TrainingJob.load(tmp_path / "jobs" / "job1")  # as after a restart
    assert reloaded.status.status == "stopped" and reloaded.dataset_copy.read_text().count("\n") == 24
    finished = reloaded.run(resume=True)
    assert finished.status == "completed" and finished.current_step == 6
    assert any("resumed from" in line for line in finished.recent_logs)
    assert (reloaded.output_dir / "config.json").is_file()
    state = json.loads((reloaded.latest_checkpoint() / "trainer_state.json").read_text())
    assert state["global_step"] == 6  # the resumed run continued the count, it did not restart
    assert finished.train_loss and finished.best_loss is not None


def test_deleting_a_serving_expert_is_refused(service: ExpertService) -> None:
    started, release = threading.Event(), threading.Event()

    def on_text(_text: str, _tokens: int) -> None:
        started.set()
        release.wait(10)

    worker = threading.Thread(target=service.generate, args=(GenerationRequest("Say hello.", max_tokens=8), "general"),
                              kwargs={"on_text": on_text})
    worker.start()
    try:
        assert started.wait(30)
        with pytest.raises(EmbodiedError) as serving:
            service.delete("general")
        assert serving.value.code is ErrorCode.EXPERT_NOT_READY
    finally:
        release.set()
        worker.join(30)
    assert service.registry.get("general").status == "ready"
    service.delete("general")  # idle now
    with pytest.raises(EmbodiedError) as gone:
        service.generate(GenerationRequest("hi"), "general")
    assert gone.value.code is ErrorCode.EXPERT_NOT_FOUND


def test_unknown_expert_and_empty_prompt(service: ExpertService) -> None:
    with pytest.raises(EmbodiedError) as unknown:
        service.generate(GenerationRequest("hello"), "no_such_expert")
    assert unknown.value.code is ErrorCode.EXPERT_NOT_FOUND
    with pytest.raises(EmbodiedError) as empty:
        service.generate(GenerationRequest(""), "general")
    assert empty.value.code is ErrorCode.INFERENCE_FAILED
