"""The service's registry operations that the experts node serves over ROS: creating experts
with a shape or on the shared base, what a caller may change, the router's training files kept
inside the dataset folders. (Training, resize included, is a job: test_training_jobs.py;
datasets are the jobs node's: tests/unit/datasets.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.config import ExpertsNodeConfig
from embodied_ai.experts.service import ExpertService, open_service
from embodied_ai.experts.training_jobs import model_shape

pytestmark = pytest.mark.timeout(1500)  # the first test may build the base into the cache


def test_create_with_a_shape_a_preset_or_on_the_base(service: ExpertService) -> None:
    lora = service.create_expert("rust", "Rust Programming", "programming")
    assert lora.status == "initializing" and lora.config["base_model"] == "SmolLM2-135M-Instruct"
    # SmolLM2-135M: 134.5 M weights, plus a separate 28.3 M output embedding in the decoded base (untied)
    assert service.total_params(lora) == pytest.approx(162.8e6, rel=0.01)
    assert 0 < service.estimated_size_gb(lora) < 0.01  # an adapter, not a model
    small = service.create_expert("small_one", "Small", size="small", quantization="Q4")
    assert small.config == {"d_model": 256, "n_layers": 4, "n_heads": 4, "d_ff": 1024}
    assert service.estimated_size_gb(small) == pytest.approx(service.total_params(small) * 0.5 / 1e9, rel=0.01)
    for bad in ({"shape": {"d_model": 100, "n_layers": 2, "n_heads": 3}}, {"shape": {"d_model": 64}},
                {"base_model": "llama-70b"}, {"size": "huge"}):
        with pytest.raises(EmbodiedError) as refused:
            service.create_expert("bad_one", "x", **bad)
        assert refused.value.code is ErrorCode.EXPERT_CREATION_FAILED
    with pytest.raises(EmbodiedError) as taken:
        service.create_expert("rust", "again")
    assert taken.value.code is ErrorCode.EXPERT_CREATION_FAILED


def test_dataset_paths_stay_inside_the_dataset_folders(service: ExpertService, tmp_path: Path) -> None:
    folder = service.state_dir / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    inside = folder / "prompts.jsonl"
    inside.write_text('{"prompt": "hello", "expert": "general"}\n')
    assert service.check_dataset_path(inside) == inside.resolve()
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(inside.read_text())
    for path, why in ((Path("/etc/passwd"), "outside the dataset folders"),
                      (folder / ".." / ".." / "elsewhere.jsonl", "outside the dataset folders"),
                      (folder / "missing.jsonl", "no dataset file"), (folder, "no dataset file")):
        with pytest.raises(EmbodiedError, match=why) as refused:
            service.check_dataset_path(path)
        assert refused.value.code is ErrorCode.DATASET_INVALID


def test_what_a_caller_may_change(service: ExpertService) -> None:
    service.create_expert("rust", "Rust")
    changed = service.update_expert("rust", domain="Rust Programming", category="programming")
    assert (changed.domain, changed.category, changed.status) == ("Rust Programming", "programming", "initializing")
    assert service.update_expert("rust").domain == "Rust Programming"  # "" leaves a field as it is
    for status, code in (("training", ErrorCode.EXPERT_CREATION_FAILED), ("ready", ErrorCode.EXPERT_NOT_READY)):
        with pytest.raises(EmbodiedError) as refused:
            service.update_expert("rust", status=status)  # only ready/disabled; ready needs a trained version
        assert refused.value.code is code
    assert service.update_expert("general", status="disabled").status == "disabled"
    assert service.update_expert("general", status="ready").status == "ready"
    service.registry.set_status("general", "training")
    with pytest.raises(EmbodiedError) as training:
        service.update_expert("general", status="disabled")  # the job sets the status when it ends
    assert training.value.code is ErrorCode.EXPERT_NOT_READY
    assert service.registry.get("general").status == "training"


def test_a_service_without_a_router_refuses_to_retrain_it(service: ExpertService) -> None:
    assert service.router is None
    with pytest.raises(EmbodiedError, match="without a router") as refused:
        service.retrain_router(service.state_dir / "datasets" / "prompts.jsonl")
    assert refused.value.code is ErrorCode.TRAINING_FAILED


def test_open_service_as_the_node_runs_it(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    config = ExpertsNodeConfig(state_dir=str(tmp_path / "state"), use_router=False, dataset_dirs=[str(uploads)])
    lines: list[str] = []
    opened = open_service(config, progress=lines.append)
    try:
        assert "general" in opened.installed
        assert opened.service.state_dir == tmp_path / "state" and opened.service.dataset_roots == [uploads]
        assert lines and opened.service.router is None
        assert opened.service.summary().startswith("experts ") and "general (ready)" in opened.service.summary()
    finally:
        opened.service.close()
    reopened = open_service(config)  # the same state: nothing to install again
    try:
        assert reopened.installed == [] and reopened.service.registry.get("general").status == "ready"
    finally:
        reopened.service.close()


def test_model_shape_rules() -> None:
    assert model_shape(64, 1, 2) == {"d_model": 64, "n_layers": 1, "n_heads": 2, "d_ff": 256}
    for shape in ((64, 1, 3), (48, 1, 2), (64, 0, 2)):
        with pytest.raises(EmbodiedError):
            model_shape(*shape)
