"""ModelsService over real registries in one state directory: reads, downloads, loading and unloading
through the serving engine's protocol (over the real expert registry)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.errors import Conflict, EmbodiedError, InvalidRequest, NotFound
from embodied_ai.model_registry import ModelStatus, ModelVersion
from embodied_ai.model_registry.experts_sync import FROM_MODEL
from embodied_ai.model_registry.store import tree_sha256
from tests.unit.model_registry.conftest import Clock
from tests.unit.model_registry.serving import Registries


@pytest.fixture
def state(tmp_path: Path, clock: Clock) -> Iterator[Registries]:
    registries = Registries.open(tmp_path / "state", clock)
    yield registries
    registries.close()


def _pipeline_output(state: Registries, name: str = "chef",
                     formats: tuple[str, ...] = ("onnx_adapter",)) -> ModelVersion:
    model = state.models.register(name, "pipeline_output", base_model="SmolLM2-135M-Instruct",
                                  metrics={"perplexity": 3.5}, description="Cooks.")
    for format in formats:
        export = state.state / "job_work" / f"{model.ref}-{format}" / f"model.{format}"
        export.parent.mkdir(parents=True)
        export.write_bytes(f"{model.ref} {format} ".encode() * 50)
        state.models.add_artefact(model.id, format, export)
    return state.models.get(model.id)


def test_list_get_card_and_serving_figures(state: Registries, clock: Clock) -> None:
    state.adapter_expert("kitchen", versions=2)
    state.service.sync()
    chef = _pipeline_output(state)

    page, total = state.service.list_models(kind="expert_adapter", limit=1)
    assert total == 2 and [m.ref for m in page] == ["kitchen:2"]
    assert [m.ref for m in state.service.list_models(kind="expert_adapter", limit=1, offset=1)[0]] == ["kitchen:1"]
    assert state.service.list_models(name="chef")[1] == 1 and state.service.list_models(status="deployed")[1] == 0
    with pytest.raises(InvalidRequest) as bad:
        state.service.list_models(kind="robot", status="lost", limit=0)
    assert len(bad.value.problems) == 3
    assert state.service.get("kitchen").ref == "kitchen:2" and state.service.get("kitchen:1").version == 1
    assert state.service.get(chef.id) == chef
    with pytest.raises(NotFound):
        state.service.get("kitchen:9")

    card = state.service.card("chef")
    assert card.startswith("---\n") and "# chef" in card and "| perplexity | 3.5 |" in card

    for latency in (100.0, 200.0, 300.0):
        state.performance.record(chef.id, latency, success=latency < 300.0, memory_mb=512.0)
    figures = state.service.performance("chef:1")
    assert (figures.requests_total, figures.avg_latency_ms, figures.p95_latency_ms) == (3, 200.0, 300.0)
    assert figures.success_rate == pytest.approx(200 / 3) and figures.memory_mb == 512.0
    clock.advance(60)
    series = state.service.metrics(chef.id, start_time="2024-05-01T12:00:00Z", end_time="2024-05-01T12:02:00Z")
    assert [b.requests for b in series.buckets] == [3, 0] and series.buckets[0].avg_latency_ms == 200.0
    with pytest.raises(InvalidRequest) as bad:
        state.service.metrics(chef.id, start_time="yesterday", interval="2m")
    assert len(bad.value.problems) == 2


def test_a_file_downloads_as_itself_and_a_missing_format_names_the_formats(state: Registries) -> None:
    chef = _pipeline_output(state, formats=("gguf", "onnx_adapter"))
    download = state.service.download(chef.id, "gguf")
    assert download.filename == "chef-v1-gguf.gguf" and download.media_type == "application/octet-stream"
    assert hashlib.sha256(download.path.read_bytes()).hexdigest() == download.sha256 == chef.artefact("gguf").sha256
    assert download.bytes == download.path.stat().st_size
    with pytest.raises(NotFound) as missing:
        state.service.download(chef.id, "merged")
    assert "no 'merged' export" in missing.value.message
    assert "formats it has: gguf, onnx_adapter" in missing.value.message


def test_a_folder_downloads_as_a_tar_packed_once(state: Registries) -> None:
    state.model_expert("math")
    [math] = state.service.sync()
    folder = math.artefact("onnx_model").path
    (folder / "export.json").write_text('{"source": "/home/someone/work"}')   # a manifest stays on the server
    state.models.add_artefact(math.id, "onnx_model", folder)                  # recorded with it

    first = state.service.download(math.id, "onnx_model")
    assert first.filename == "math-v1-onnx_model.tar" and first.media_type == "application/x-tar"
    with tarfile.open(first.path) as archive:
        names = sorted(archive.getnames())
        extracted = {member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
                     for member in archive.getmembers()}
    assert names == ["genai_config.json", "model.onnx", "tokenizer/tokenizer.json"]
    assert all(extracted[name] == (folder / name).read_bytes() for name in names)
    stamp = first.path.stat().st_mtime_ns
    assert state.service.download(math.id, "onnx_model").path.stat().st_mtime_ns == stamp   # not packed again

    (folder / "model.onnx").write_bytes(b"tampered")
    state.models.add_artefact(math.id, "onnx_model", folder)      # a new recording packs a new tar ...
    again = state.service.download(math.id, "onnx_model")
    assert again.path != first.path and not first.path.exists()
    with tarfile.open(again.path) as archive:
        assert archive.extractfile("model.onnx").read() == b"tampered"  # type: ignore[union-attr]
    (folder / "model.onnx").write_bytes(b"changed after it was recorded")
    again.path.unlink()
    with pytest.raises(Conflict) as changed:      # ... an unrecorded change is refused
        state.service.download(math.id, "onnx_model")
    assert "has changed since it was recorded" in changed.value.message
    assert tree_sha256(folder)[1] != state.models.get(math.id).artefact("onnx_model").sha256


def test_an_expert_version_loads_its_expert_and_unloads(state: Registries) -> None:
    state.adapter_expert("kitchen", versions=2)
    state.service.sync()
    events: list[tuple[str, str]] = []
    state.models.on_event(lambda model, event: events.append((model.ref, event)))
    assert [v["servable"] for v in state.service.views(state.service.list_models()[0])] == [True, False]

    loaded = state.service.load("kitchen:2")
    assert loaded.status is ModelStatus.DEPLOYED and loaded.loaded_at
    assert state.serving.loaded == {"kitchen@v2"} and events == [("kitchen:2", "model.loaded")]
    with pytest.raises(Conflict) as old:
        state.service.load("kitchen:1")
    assert "serves version 2" in old.value.message and "load kitchen:2 instead" in old.value.message

    assert state.service.unload("kitchen").status is ModelStatus.TRAINED
    assert state.serving.loaded == set() and events[-1] == ("kitchen:2", "model.unloaded")
    with pytest.raises(Conflict) as not_loaded:
        state.service.unload("kitchen")
    assert "not loaded" in not_loaded.value.message

    state.experts.set_status("kitchen", "training")
    with pytest.raises(EmbodiedError) as busy:         # the engine's refusal, as it is
        state.service.load("kitchen")
    assert busy.value.code == 1001 and state.models.get("kitchen").status is ModelStatus.TRAINED
    assert state.service.view(state.models.get("kitchen"))["servable"] is False


def test_a_pipeline_output_becomes_an_expert_of_its_name(state: Registries) -> None:
    first = _pipeline_output(state)
    assert state.service.view(first)["servable"] is False

    state.service.load(first.id)
    chef = state.experts.get("chef")
    assert chef.status == "ready" and chef.current_version == 1 and chef.config == {
        "base_model": "SmolLM2-135M-Instruct"}
    assert chef.current and chef.current.config[FROM_MODEL] == first.id and chef.metrics == {"perplexity": 3.5}
    assert (state.state / chef.current.path).read_bytes() == first.artefact("onnx_adapter").path.read_bytes()
    assert state.serving.loaded == {"chef@v1"} and state.service.view(state.models.get(first.id))["servable"]
    assert state.service.sync() == []              # the expert's version is this model: no mirror of it
    state.service.load(first.id)                   # a reload adds no version
    assert state.experts.get("chef").current_version == 1

    second = _pipeline_output(state)
    state.service.load("chef")
    assert state.experts.get("chef").current_version == 2 and state.serving.loaded == {"chef@v2"}
    assert state.models.get(first.id).status is ModelStatus.TRAINED     # its expert serves chef:2 now
    assert state.models.get(second.id).status is ModelStatus.DEPLOYED
    state.service.unload(second.id)
    assert state.serving.loaded == set()


def test_what_cannot_be_served_is_refused_with_the_reason(state: Registries) -> None:
    no_adapter = _pipeline_output(state, "baker", formats=("gguf",))
    with pytest.raises(Conflict) as refused:
        state.service.load(no_adapter.id)
    assert "no 'onnx_adapter' export" in refused.value.message and "formats it has: gguf" in refused.value.message
    policy = state.models.register("reach", "policy")
    with pytest.raises(Conflict) as refused:
        state.service.load(policy.id)
    assert "policy" in refused.value.message and "serves experts only" in refused.value.message
    dotted = _pipeline_output(state, "chef.v2")
    with pytest.raises(Conflict, match="not an expert name"):
        state.service.load(dotted.id)
    archived = _pipeline_output(state, "old")
    state.models.archive(archived.id)
    with pytest.raises(Conflict, match="archived"):
        state.service.load(archived.id)
    state.model_expert("math")
    clash = _pipeline_output(state, "math")
    with pytest.raises(Conflict, match="model of its own"):
        state.service.load(clash.id)
    assert state.experts.get("math").current_version == 1 and state.experts.list()[1] == 1   # nothing was written


def test_an_engine_refusal_leaves_no_expert_behind(state: Registries) -> None:
    chef = _pipeline_output(state)
    state.serving.refused.add("chef")
    with pytest.raises(EmbodiedError, match="could not load"):
        state.service.load(chef.id)
    assert state.experts.list()[1] == 0 and not (state.state / "experts" / "chef").exists()
    assert state.models.get(chef.id).status is ModelStatus.TRAINED
    state.serving.refused.clear()
    assert state.service.load(chef.id).status is ModelStatus.DEPLOYED


def test_a_tar_download_matches_the_recorded_digest(state: Registries) -> None:
    """Unpacked, a folder's tar has the files whose tree digest was recorded."""
    state.model_expert("math")
    [math] = state.service.sync()
    download = state.service.download(math.id, "onnx_model")
    unpacked = state.state / "unpacked"
    with tarfile.open(fileobj=io.BytesIO(download.path.read_bytes())) as archive:
        archive.extractall(unpacked)
    assert tree_sha256(unpacked)[1] == math.artefact("onnx_model").sha256
