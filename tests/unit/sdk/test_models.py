"""The SDK's models resource against the real bridge app served by uvicorn on loopback, over a real
model registry in this process (its state written before the bridge starts, as the jobs node's is)."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.model_registry.store import tree_sha256
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge
from tests.unit.model_registry.serving import Registries


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Client]:
    registries = Registries.open(tmp_path)
    registries.model_expert("math")
    registries.service.sync()
    chef = registries.models.register("chef", "pipeline_output", metrics={"perplexity": 3.5})
    export = tmp_path / "exports" / "adapter.onnx_adapter"
    export.parent.mkdir()
    export.write_bytes(b"chef adapter " * 100)
    registries.models.add_artefact(chef.id, "onnx_adapter", export)
    registries.close()
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as client:
        yield client


def test_list_read_and_download(sdk: Client, tmp_path: Path) -> None:
    catalog = sdk.models.list()
    assert catalog.total == 2 and [m.id for m in catalog.data][-2:] == ["chef", "math"]
    assert [m.id for m in sdk.models.list(kind="expert_model").data] == ["math"]
    chef = sdk.models.get("chef")
    assert chef.metrics == {"perplexity": 3.5} and list(chef.exports) == ["onnx_adapter"]
    assert "# chef" in sdk.models.card(chef.model_id)
    assert sdk.models.performance("chef").performance_metrics["requests_total"] == 0
    assert len(sdk.models.metrics("chef", interval="5m").buckets) == 60

    saved = sdk.models.download("chef", "onnx_adapter", dest=tmp_path)
    assert saved == tmp_path / "chef-v1-onnx_adapter.onnx_adapter"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == chef.artefacts["onnx_adapter"].sha256
    tar = sdk.models.download("math", dest=tmp_path / "math.tar")
    with tarfile.open(tar) as archive:
        archive.extractall(tmp_path / "math")
    assert tree_sha256(tmp_path / "math")[1] == sdk.models.get("math").artefacts["onnx_model"].sha256

    with pytest.raises(ApiError) as missing:
        sdk.models.download("chef", "gguf", dest=tmp_path / "chef.gguf")
    assert missing.value.status == 404 and "formats it has: onnx_adapter" in str(missing.value.details)
    assert not (tmp_path / "chef.gguf").exists() and not list(tmp_path.glob("*.partial"))


def test_load_and_unload(sdk: Client) -> None:
    loaded = sdk.models.load("chef")
    assert (loaded.status, loaded.loaded, loaded.model.servable) == ("deployed", True, True)
    assert [m.id for m in sdk.models.list(status="deployed").data] == ["chef"]
    assert sdk.models.unload("chef").status == "trained"
    with pytest.raises(ApiError) as refused:
        sdk.models.unload("chef")
    assert refused.value.status == 409
