"""The expert registry: the Robot API's fields, create / update / delete, versions, and nothing lost on restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.registry import ExpertRegistry


def test_create_update_and_restart_keep_everything(tmp_path: Path) -> None:
    registry = ExpertRegistry(tmp_path)
    created = registry.create("rust_expert", "Rust Programming", "programming",
                              config={"d_model": 128, "n_layers": 2, "n_heads": 4, "d_ff": 512}, quantization="Q8")
    assert created.status == "initializing" and created.id > 0
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(b"\x01\x02")
    version = registry.add_version("rust_expert", "model", artifact, metrics={"accuracy": 0.5})
    registry.update(created.id, domain="Rust Programming Advanced", performance={"latency_p50_ms": 15})
    registry.set_status("rust_expert", "ready")
    registry.record_usage("rust_expert", calls=3)
    registry.close()

    reopened = ExpertRegistry(tmp_path).get("rust_expert")
    assert reopened.domain == "Rust Programming Advanced"
    assert reopened.status == "ready" and reopened.total_calls == 3 and reopened.last_used
    assert reopened.metrics == {"accuracy": 0.5} and reopened.performance == {"latency_p50_ms": 15}
    assert reopened.current_version == version.version == 1
    assert (tmp_path / reopened.current.path).read_bytes() == b"\x01\x02"
    assert reopened.to_dict()["usage_stats"]["total_calls"] == 3


def test_bad_input_gets_seed_codes(tmp_path: Path) -> None:
    registry = ExpertRegistry(tmp_path)
    registry.create("math", quantization="Q4")
    with pytest.raises(EmbodiedError) as duplicate:
        registry.create("math")
    assert duplicate.value.code is ErrorCode.EXPERT_CREATION_FAILED
    with pytest.raises(EmbodiedError) as missing:
        registry.get("nope")
    assert missing.value.code is ErrorCode.EXPERT_NOT_FOUND
    for bad in ({"quantization": "Q3"}, {"status": "sleeping"}):
        with pytest.raises(EmbodiedError):
            registry.update("math", **bad)
    with pytest.raises(EmbodiedError):
        registry.create("bad name!")
    assert registry.get("math").quantization == "Q4"  # nothing changed by the refused updates


def test_soft_delete_hides_and_hard_delete_removes_files(tmp_path: Path) -> None:
    registry = ExpertRegistry(tmp_path)
    expert = registry.create("python")
    source = tmp_path / "a.onnx_adapter"
    source.write_bytes(b"x")
    registry.add_version("python", "adapter", source)
    registry.delete("python")
    assert registry.list()[1] == 0
    soft = registry.get(expert.id, include_deleted=True)
    assert soft.status == "disabled" and soft.deleted_at
    assert registry.version_dir("python", 1).exists()
    registry.create("python")  # the name is free again once deleted
    registry.delete(expert.id, hard=True)
    with pytest.raises(EmbodiedError):
        registry.get(expert.id, include_deleted=True)


def test_status_check_and_set_is_atomic(tmp_path: Path) -> None:
    registry = ExpertRegistry(tmp_path)
    registry.create("robot_control", status="ready")
    registry.set_status("robot_control", "training", expected=("ready",))
    with pytest.raises(EmbodiedError) as busy:
        registry.set_status("robot_control", "training", expected=("ready",))
    assert busy.value.code is ErrorCode.EXPERT_NOT_READY


def test_list_filters_sorts_and_pages(tmp_path: Path) -> None:
    registry = ExpertRegistry(tmp_path)
    for name, category in (("a", "x"), ("b", "y"), ("c", "x")):
        registry.create(name, category=category, status="ready")
    experts, total = registry.list(category="x")
    assert [e.name for e in experts] == ["a", "c"] and total == 2
    page, total = registry.list(limit=1, offset=1)
    assert [e.name for e in page] == ["b"] and total == 3
