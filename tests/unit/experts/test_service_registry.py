"""The service's registry operations that the experts node serves over ROS: creating experts
with a shape or on the shared base, registering datasets (row errors by number, paths kept
inside the dataset folders), what a caller may change. (Training, resize included, is a job:
test_training_jobs.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.config import ExpertsNodeConfig
from embodied_ai.experts.service import ExpertService, open_service
from embodied_ai.experts.training_jobs import model_shape

pytestmark = pytest.mark.timeout(1500)  # the first test may build the base into the cache


def _upload(service: ExpertService, text: str, suffix: str = ".jsonl") -> Path:
    folder = service.state_dir / "datasets" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload{suffix}"
    path.write_text(text)
    return path


def _rows(count: int) -> str:
    return "".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n" for i in range(count))


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


def test_a_dataset_keeps_its_good_rows_and_names_the_bad_ones(service: ExpertService, tmp_path: Path) -> None:
    text = _rows(3) + "{not json\n" + _rows(1) + '{"prompt": 5, "completion": "x"}\n'
    registered = service.register_dataset(_upload(service, text), "general", "Sums")
    record = registered.record
    assert (record.rows, record.invalid_rows, record.duplicates_removed) == (3, 2, 1)
    assert [e.split(":")[0] for e in registered.row_errors] == ["row 4", "row 6"]
    assert registered.summary == "3 rows kept, 2 invalid, 1 duplicates removed"
    (service.state_dir / "datasets" / "uploads" / "upload.jsonl").unlink()  # the service keeps its own copy
    assert service.dataset_path(record).read_text().count("\n") == 3
    assert service.registry.latest_dataset(service.registry.get("general").id) == record

    with pytest.raises(EmbodiedError) as invalid:
        service.register_dataset(_upload(service, '{oops\n{"prompt": 1}\n'), "general", "Bad")
    assert invalid.value.code is ErrorCode.DATASET_INVALID
    assert "row 1:" in str(invalid.value) and "row 2:" in str(invalid.value)
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(_rows(2))
    with pytest.raises(EmbodiedError, match="outside the dataset folders") as escaped:
        service.register_dataset(outside, "general", "x")
    assert escaped.value.code is ErrorCode.DATASET_INVALID
    with pytest.raises(EmbodiedError) as unknown:
        service.register_dataset(_upload(service, _rows(2)), "no_such_expert", "x")
    assert unknown.value.code is ErrorCode.EXPERT_NOT_FOUND


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
