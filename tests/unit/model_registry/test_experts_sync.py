"""Expert versions mirrored in the model registry: real SQLite files, real version files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.model_registry import ModelKind, ModelSource, ModelVersion
from embodied_ai.model_registry.experts_sync import FROM_MODEL, sync_expert_versions
from embodied_ai.model_registry.store import file_sha256, tree_sha256
from tests.unit.model_registry.conftest import Clock
from tests.unit.model_registry.serving import SHARED_BASE, Registries


@pytest.fixture
def state(tmp_path: Path, clock: Clock) -> Iterator[Registries]:
    registries = Registries.open(tmp_path / "state", clock)
    yield registries
    registries.close()


def test_every_version_with_files_is_mirrored_once(state: Registries) -> None:
    state.adapter_expert("kitchen", versions=2)
    state.model_expert("math")
    state.experts.create("general", config={"base_model": SHARED_BASE})
    state.experts.add_version("general", "base", None, note="the shared base model")   # no files of its own
    events: list[tuple[str, str]] = []
    state.models.on_event(lambda model, event: events.append((model.ref, event)))

    added = sync_expert_versions(state.experts, state.models)

    assert [m.ref for m in added] == ["kitchen:1", "kitchen:2", "math:1"]
    assert events == [("kitchen:1", "model.registered"), ("kitchen:2", "model.registered"),
                      ("math:1", "model.registered")]
    kitchen = state.experts.get("kitchen")
    second = state.models.get("kitchen:2")
    assert second.kind is ModelKind.EXPERT_ADAPTER and second.base_model == SHARED_BASE
    assert second.source == ModelSource(expert_id=kitchen.id, expert_version=2)
    assert second.metrics == {"final_loss": 0.5} and second.description == "trained 2"
    assert second.training_config == {"lora_r": 8}     # the server's peft path stays out of the card
    adapter = state.state / kitchen.versions[1].path
    assert second.formats == ["onnx_adapter"] and second.artefact("onnx_adapter").sha256 == file_sha256(adapter)
    math = state.models.get("math")
    assert math.kind is ModelKind.EXPERT_MODEL and math.base_model == "" and math.formats == ["onnx_model"]
    folder = state.state / state.experts.get("math").versions[0].path
    assert math.artefact("onnx_model").is_dir and math.artefact("onnx_model").sha256 == tree_sha256(folder)[1]

    assert sync_expert_versions(state.experts, state.models) == []       # idempotent
    assert state.models.list()[1] == 3 and len(events) == 3
    state.experts.add_version("kitchen", "adapter", adapter, metrics={"final_loss": 0.2})
    assert [m.ref for m in sync_expert_versions(state.experts, state.models)] == ["kitchen:3"]


def test_a_taken_number_an_adapter_from_a_model_and_missing_files(state: Registries) -> None:
    state.models.register("kitchen", "pipeline_output")          # kitchen:1 is a pipeline's
    state.adapter_expert("kitchen", versions=1)
    from_model = state.state / "uploads" / "kitchen-1" / "adapter.onnx_adapter"
    state.experts.add_version("kitchen", "adapter", from_model, config={FROM_MODEL: "mdl_0123456789abcdef"})
    state.adapter_expert("gone")
    (state.state / state.experts.get("gone").versions[0].path).unlink()

    [mirror] = sync_expert_versions(state.experts, state.models)

    assert mirror.ref == "kitchen:2" and mirror.source.expert_version == 1   # the next free number
    assert state.models.list()[1] == 2        # neither the model's own adapter nor a version without files
    assert state.models.list(name="gone")[1] == 0


def test_a_name_the_model_registry_refuses_is_skipped(state: Registries, caplog: pytest.LogCaptureFixture) -> None:
    state.adapter_expert("küche")       # the expert registry allows any letter; model names are ASCII
    state.adapter_expert("pantry")
    assert [m.ref for m in sync_expert_versions(state.experts, state.models)] == ["pantry:1"]
    assert "küche version 1 is not mirrored" in caplog.text


def test_a_mirror_registered_without_its_export_gets_it(state: Registries) -> None:
    state.adapter_expert("kitchen")
    expert = state.experts.get("kitchen")
    bare: ModelVersion = state.models.register("kitchen", "expert_adapter",
                                               source=ModelSource(expert_id=expert.id, expert_version=1))
    assert bare.formats == []       # as a crash between registering and recording the file leaves it

    assert sync_expert_versions(state.experts, state.models) == []
    assert state.models.get(bare.id).formats == ["onnx_adapter"]
