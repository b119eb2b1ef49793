"""The model registry on a real SQLite file: registration, lookups, lists, status moves, exports."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import Conflict, InvalidRequest, NotFound
from embodied_ai.model_registry import ModelKind, ModelRegistry, ModelSource, ModelStatus, ModelVersion
from embodied_ai.model_registry.store import tree_sha256
from tests.unit.model_registry.conftest import Clock


def _adapter(registry: ModelRegistry, name: str = "kitchen", **kwargs: Any) -> ModelVersion:
    return registry.register(name, "expert_adapter", base_model="Qwen/Qwen2.5-0.5B-Instruct", **kwargs)


def test_register_assigns_ids_and_versions_per_name(registry: ModelRegistry, db_path: Path) -> None:
    first = registry.register(
        "kitchen", ModelKind.EXPERT_ADAPTER, base_model="Qwen/Qwen2.5-0.5B-Instruct",
        training_config={"method": "lora", "lora_r": 16}, metrics={"final_loss": 0.42},
        source=ModelSource(job_id=7, run_id="abc123", dataset_id="ds_1", expert_id=3, expert_version=2))
    second = registry.register("kitchen", "pipeline_output")
    other = registry.register("math", "expert_model")

    assert re.fullmatch(r"mdl_[0-9a-f]{16}", first.id)
    assert len({first.id, second.id, other.id}) == 3
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.status is ModelStatus.TRAINED and first.ref == "kitchen:1"
    assert first.training_config == {"method": "lora", "lora_r": 16}
    assert first.metrics == {"final_loss": 0.42}
    assert first.source == ModelSource(job_id=7, run_id="abc123", dataset_id="ds_1", expert_id=3, expert_version=2)
    assert first.created_at == "2024-05-01T12:00:00.000Z" and first.license == "apache-2.0"

    reopened = ModelRegistry(db_path)  # on the disk: a second connection sees it all
    try:
        assert reopened.get(first.id) == first
    finally:
        reopened.close()


def test_register_lists_every_problem(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidRequest) as refused:
        registry.register("mdl_x", "robot", version=0, training_config=[1],  # type: ignore[arg-type]
                          source=ModelSource(expert_id=3), license="Apache 2")
    problems = "\n".join(refused.value.problems)
    for field in ("name:", "kind:", "version:", "training_config:", "source:", "license:"):
        assert field in problems
    assert len(refused.value.problems) == 6
    for name in ("", "123", "a/b", "x" * 65, "-lead"):
        with pytest.raises(InvalidRequest):
            registry.register(name, "policy")
    assert registry.list()[1] == 0


def test_register_conflicts(registry: ModelRegistry) -> None:
    _adapter(registry, version=3, source=ModelSource(expert_id=1, expert_version=1))
    with pytest.raises(Conflict, match="version 3"):
        _adapter(registry, version=3)
    with pytest.raises(Conflict, match="expert 1 version 1"):
        _adapter(registry, name="other", source=ModelSource(expert_id=1, expert_version=1))
    assert _adapter(registry).version == 4


def test_non_finite_metrics_are_kept_as_null_and_updates_merge(registry: ModelRegistry) -> None:
    model = _adapter(registry, metrics={"final_loss": float("nan"), "accuracy": 0.5})
    assert model.metrics == {"final_loss": None, "accuracy": 0.5}
    updated = registry.update_metrics(model.id, {"perplexity": 3.25, "accuracy": 0.75})
    assert updated.metrics == {"final_loss": None, "accuracy": 0.75, "perplexity": 3.25}
    with pytest.raises(InvalidRequest):
        registry.update_metrics(model.id, [1])  # type: ignore[arg-type]


def test_get_by_id_name_and_version(registry: ModelRegistry) -> None:
    one, two = _adapter(registry), _adapter(registry)
    assert registry.get(one.id) == one
    assert registry.get("kitchen").id == two.id
    assert registry.get("kitchen:1").id == one.id
    for missing in ("mdl_0000000000000000", "pantry", "kitchen:3", "kitchen:x", ""):
        with pytest.raises(NotFound):
            registry.get(missing)


def test_list_filters_paging_and_total(registry: ModelRegistry) -> None:
    made = [registry.register(f"m{i}", "expert_adapter" if i % 2 else "policy", base_model="base" if i < 4 else "",
                              source=ModelSource(job_id=i + 1)) for i in range(7)]
    registry.archive(made[0].id)

    page, total = registry.list(limit=3)
    assert total == 7 and [m.id for m in page] == [m.id for m in reversed(made)][:3]  # newest first
    page, total = registry.list(limit=3, offset=6)
    assert total == 7 and [m.id for m in page] == [made[0].id]
    assert registry.list(offset=10) == ([], 7)

    assert registry.list(kind="policy")[1] == 4
    assert registry.list(kind=ModelKind.EXPERT_ADAPTER, base_model="base")[1] == 2
    assert [m.id for m in registry.list(status="archived")[0]] == [made[0].id]
    assert registry.list(status="trained")[1] == 6
    assert [m.id for m in registry.list(name="m3")[0]] == [made[3].id]
    assert [m.id for m in registry.list(job_id=5)[0]] == [made[4].id]

    with pytest.raises(InvalidRequest) as refused:
        registry.list(kind="robot", status="loaded", limit=0, offset=-1)
    assert len(refused.value.problems) == 4
    with pytest.raises(InvalidRequest):
        registry.list(limit=1001)
    assert len(registry.list(limit=1000)[0]) == 7


def test_status_moves(registry: ModelRegistry, clock: Clock) -> None:
    events: list[tuple[str, str]] = []
    registry.on_event(lambda model, event: events.append((model.id, event)))
    model = _adapter(registry)

    clock.advance(5)
    loaded = registry.mark_loaded(model.ref)
    assert loaded.status is ModelStatus.DEPLOYED and loaded.loaded_at == "2024-05-01T12:00:05.000Z"
    with pytest.raises(Conflict, match="unload it before archiving"):
        registry.archive(model.id)
    clock.advance(5)
    assert registry.mark_loaded(model.id).loaded_at == "2024-05-01T12:00:10.000Z"  # a reload
    unloaded = registry.mark_unloaded(model.id)
    assert unloaded.status is ModelStatus.TRAINED and unloaded.loaded_at is None
    with pytest.raises(Conflict, match="not loaded"):
        registry.mark_unloaded(model.id)

    archived = registry.archive(model.id)
    assert archived.status is ModelStatus.ARCHIVED and archived.archived_at is not None
    assert registry.archive(model.id) == archived  # the same status changes nothing
    with pytest.raises(Conflict, match="archived model cannot be loaded"):
        registry.mark_loaded(model.id)
    with pytest.raises(Conflict):
        registry.set_status(model.id, "deployed")
    with pytest.raises(InvalidRequest):
        registry.set_status(model.id, "loaded")
    restored = registry.set_status(model.id, ModelStatus.TRAINED)
    assert restored.status is ModelStatus.TRAINED and restored.archived_at is None

    assert [e for _, e in events] == ["model.registered", "model.loaded", "model.loaded", "model.unloaded",
                                      "model.archived", "model.restored"]
    assert {i for i, _ in events} == {model.id}


def test_reset_loaded_after_a_restart(registry: ModelRegistry) -> None:
    one, two, three = _adapter(registry), _adapter(registry), _adapter(registry)
    registry.mark_loaded(one.id)
    registry.mark_loaded(three.id)
    assert registry.reset_loaded() == [one.id, three.id]
    assert {registry.get(m.id).status for m in (one, two, three)} == {ModelStatus.TRAINED}
    # A serving engine resets only its own kinds: a deployed policy runs in another node.
    policy = registry.register("reach", ModelKind.POLICY)
    registry.mark_loaded(policy.id)
    registry.mark_loaded(two.id)
    assert registry.reset_loaded([ModelKind.EXPERT_ADAPTER]) == [two.id]
    assert registry.get(policy.id).status is ModelStatus.DEPLOYED


def test_a_failing_listener_does_not_fail_the_write(registry: ModelRegistry) -> None:
    def broken(model: ModelVersion, event: str) -> None:
        raise RuntimeError("listener bug")
    unsubscribe = registry.on_event(broken)
    assert _adapter(registry).status is ModelStatus.TRAINED
    unsubscribe()


def test_artefacts_are_measured_and_looked_up_by_format(registry: ModelRegistry, db_path: Path,
                                                        tmp_path: Path) -> None:
    model = _adapter(registry)
    gguf = db_path.parent / "exports" / "model.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"\x01" * 100)
    (adapter / "adapter_config.json").write_text('{"r": 16}')

    with pytest.raises(NotFound, match="formats it has: none yet"):
        registry.artefact(model.id, "gguf")
    recorded = registry.add_artefact(model.id, "gguf", gguf)
    assert recorded.bytes == 2564 and recorded.sha256 == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert recorded.path == gguf.resolve() and not recorded.is_dir
    folder = registry.add_artefact(model.ref, "adapter", adapter)
    assert folder.is_dir and folder.bytes == 109 and (folder.bytes, folder.sha256) == tree_sha256(adapter)

    assert registry.get(model.id).formats == ["adapter", "gguf"]
    assert registry.artefact(model.id, "gguf") == recorded
    with pytest.raises(NotFound, match="no 'merged' export; formats it has: adapter, gguf"):
        registry.artefact(model.id, "merged")
    with pytest.raises(NotFound):
        registry.artefact("mdl_0000000000000000", "gguf")

    # A new export in the same format replaces the old one.
    gguf.write_bytes(b"GGUF2")
    replaced = registry.add_artefact(model.id, "gguf", gguf, expected_sha256=hashlib.sha256(b"GGUF2").hexdigest())
    assert replaced.bytes == 5
    assert len(registry.get(model.id).artefacts) == 2

    with pytest.raises(InvalidRequest) as refused:
        registry.add_artefact(model.id, "GGUF!", tmp_path / "missing.bin", expected_sha256="xyz")
    assert len(refused.value.problems) == 3
    with pytest.raises(InvalidRequest, match="checksum"):
        registry.add_artefact(model.id, "gguf", gguf, expected_sha256="0" * 64)
    with pytest.raises(NotFound):
        registry.add_artefact("nothing", "gguf", gguf)

    shutil.rmtree(adapter)
    with pytest.raises(NotFound, match="no longer on the disk"):
        registry.artefact(model.id, "adapter")


def test_artefacts_in_the_state_directory_move_with_it(tmp_path: Path, clock: Clock) -> None:
    state = tmp_path / "state"
    registry = ModelRegistry(state / "operations.sqlite", clock=clock)
    model = _adapter(registry)
    export = state / "exports" / "merged.safetensors"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"weights")
    registry.add_artefact(model.id, "merged", export)
    registry.close()

    state.rename(tmp_path / "moved")
    moved = ModelRegistry(tmp_path / "moved" / "operations.sqlite", clock=clock)
    try:
        found = moved.artefact(model.id, "merged")
        assert found.path == (tmp_path / "moved" / "exports" / "merged.safetensors").resolve()
        assert found.path.read_bytes() == b"weights"
    finally:
        moved.close()


def test_to_dict_uses_the_seed_fields(registry: ModelRegistry, tmp_path: Path) -> None:
    model = _adapter(registry, training_config={"epochs": 3}, metrics={"accuracy": 0.92},
                     source=ModelSource(run_id="abc123", dataset_id="ds_xyz789"))
    export = tmp_path / "a.bin"
    export.write_bytes(b"x")
    registry.add_artefact(model.id, "adapter", export)
    data = registry.get(model.id).to_dict()
    assert data["model_id"] == model.id and data["model_name"] == "kitchen"
    assert data["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert (data["run_id"], data["dataset_id"]) == ("abc123", "ds_xyz789")
    assert data["training_config"] == {"epochs": 3} and data["metrics"] == {"accuracy": 0.92}
    assert data["exports"] == ["adapter"] and data["status"] == "trained" and data["kind"] == "expert_adapter"
    assert data["artefacts"]["adapter"]["bytes"] == 1 and "path" not in data["artefacts"]["adapter"]


def test_artefacts_given_at_registration_are_there_when_listeners_hear_of_it(registry: ModelRegistry,
                                                                              tmp_path: Path) -> None:
    weights = tmp_path / "adapter.onnx_adapter"
    weights.write_bytes(b"weights")
    heard: list[tuple[str, list[str]]] = []
    registry.on_event(lambda model, event: heard.append((event, model.formats)))
    model = registry.register("kitchen", ModelKind.EXPERT_ADAPTER, artefacts={"onnx_adapter": weights})
    assert heard == [("model.registered", ["onnx_adapter"])]
    assert model.artefact("onnx_adapter") is not None and model.artefacts[0].bytes == 7
    with pytest.raises(InvalidRequest) as missing:
        registry.register("kitchen", ModelKind.EXPERT_ADAPTER, artefacts={"gguf": tmp_path / "none.gguf"})
    assert any("does not exist" in p for p in missing.value.problems) and registry.list(name="kitchen")[1] == 1
