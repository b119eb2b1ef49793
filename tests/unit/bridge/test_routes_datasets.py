"""The Datasets API over a real dataset registry in this process: both seeds' uploads (every format, with
its analysis; an expert's training data with seed 000's fields), get, preview and list, and bad uploads
refused with nothing left on disk."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.served import served_bridge
from tests.unit.datasets.conftest import QA, leftovers, table_bytes


def upload(client: TestClient, content: bytes, filename: str, **form: str) -> httpx.Response:
    return client.post("/v1/datasets/upload", files={"file": (filename, content, "application/octet-stream")},
                       data=form)


def nothing_kept(fake: FakeGraph, settings: BridgeSettings) -> bool:
    """No upload left by the bridge, and nothing in the registry's folder or table."""
    uploads = settings.state_dir / "datasets" / "uploads"
    registry = fake.job_system.dataset_store  # type: ignore[union-attr]
    return (not uploads.exists() or not list(uploads.iterdir())) and leftovers(registry.root) == [] \
        and registry.list() == ([], 0)


@pytest.mark.parametrize("format", ["csv", "json", "jsonl", "parquet", "txt"])
def test_an_upload_is_analysed_and_read_back(client: TestClient, fake: FakeGraph, format: str) -> None:
    content = table_bytes(format)
    dataset = data(upload(client, content, f"training_data.{format}"))
    columns = ["text"] if format == "txt" else ["prompt", "completion"]
    assert (dataset["dataset_id"], dataset["filename"], dataset["name"], dataset["format"]) == (
        1, f"training_data.{format}", f"training_data.{format}", format)
    analysis = dataset["analysis"]
    assert (analysis["rows"], analysis["columns"], analysis["text_column"]) == (3, columns, columns[0])
    assert set(analysis["stats"]) >= {"avg_length", "min_length", "max_length"} and analysis["stats"]["max_length"]
    assert (dataset["rows"], dataset["size_bytes"], dataset["status"]) == (3, len(content), "ready")
    assert data(client.get("/v1/datasets/1")) == dataset
    stored = fake.job_system.dataset_store.root / dataset["file_path"]  # type: ignore[union-attr]
    assert stored.read_bytes() == content


def test_an_upload_for_an_expert_answers_seed_000s_fields(client: TestClient, fake: FakeGraph,
                                                          settings: BridgeSettings) -> None:
    client.post("/v1/experts/create", json={"name": "python", "domain": "Python"})
    rows = [*QA, QA[0], {"prompt": "no answer"}]
    dataset = data(upload(client, table_bytes("jsonl", rows), "python_dataset.jsonl", expert_id="1",
                          name="Python Training Data"))
    assert {k: dataset[k] for k in ("dataset_id", "num_samples", "status", "invalid_rows", "duplicates_removed",
                                    "row_errors")} == {
        "dataset_id": 1, "num_samples": 3, "status": "ready", "invalid_rows": 1, "duplicates_removed": 1,
        "row_errors": ["row 5: missing field 'completion'"]}
    assert dataset["size_mb"] > 0 and (dataset["name"], dataset["expert"]) == ("Python Training Data", "python")
    registry = fake.job_system.dataset_store  # type: ignore[union-attr]
    assert [json.loads(line) for line in registry.training_file(1).read_text().splitlines()] == QA
    assert not list((settings.state_dir / "datasets" / "uploads").iterdir())   # the bridge keeps no copy


@pytest.mark.parametrize("filename, content, form, status, code, reason", [
    ("data.parquet", b"text,label\nx,1\n", {}, 400, 2001, "not a Parquet file"),
    ("empty.csv", b"", {}, 400, 2001, "no usable rows"),
    ("rows.exe", b"MZ", {}, 400, 400, "dataset must be one of"),
    ("rows.jsonl", b'{"prompt": "x"}\n', {"expert_id": "python"}, 400, 2001, "row 1: missing field 'completion'"),
    ("rows.jsonl", b'{"prompt": "x", "completion": "y"}\n', {"expert_id": "nobody"}, 404, 1000, "nobody"),
    ("rows.txt", b"x" * (64 * 1024 + 1), {}, 413, 413, "larger than"),   # the test bridge's 64 KiB limit
    ("rows.txt", b"x\n", {"format": "xls"}, 400, 400, "format"),
])
def test_a_bad_upload_is_refused_and_nothing_is_kept(client: TestClient, fake: FakeGraph, settings: BridgeSettings,
                                                     filename: str, content: bytes, form: dict[str, str], status: int,
                                                     code: int, reason: str) -> None:
    client.post("/v1/experts/create", json={"name": "python", "domain": "Python"})
    refused = error(upload(client, content, filename, **form), status, code)
    assert reason in json.dumps(refused)
    assert nothing_kept(fake, settings)


def test_preview_is_bounded(client: TestClient) -> None:
    data(upload(client, table_bytes("csv", QA * 5), "qa.csv"))
    preview = data(client.get("/v1/datasets/1/preview"))
    assert (preview["dataset_id"], preview["total_rows"], len(preview["samples"])) == (1, 15, 10)
    assert data(client.get("/v1/datasets/1/preview", params={"limit": 2}))["samples"] == QA[:2]
    too_many = error(client.get("/v1/datasets/1/preview", params={"limit": 10_000}), 400, 400)
    assert too_many["details"][0]["loc"] == ["query", "limit"] and "100" in too_many["details"][0]["msg"]


def test_unknown_datasets_are_404(client: TestClient) -> None:
    for path in ("/v1/datasets/7", "/v1/datasets/7/preview"):
        assert "dataset 7 does not exist" in error(client.get(path), 404, 404)["details"]
    error(client.get("/v1/datasets/ds_xyz789"), 400, 400)


def test_lists_page_with_total_and_a_link_to_the_next_page(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        data(upload(client, table_bytes("jsonl"), f"{name}.jsonl", description=f"set {name}"))
    response = client.get("/v1/datasets", params={"limit": 2})
    page = data(response)
    assert [d["name"] for d in page["datasets"]] == ["c.jsonl", "b.jsonl"] and page["datasets"][0]["description"] == \
        "set c"
    assert response.headers["x-total-count"] == "3" and page["pagination"]["has_more"] is True
    assert 'rel="next"' in response.headers["link"] and "offset=2" in response.headers["link"]
    assert "link" not in client.get("/v1/datasets", params={"limit": 2, "offset": 2}).headers


def test_a_format_given_with_the_upload_names_a_file_without_a_suffix(client: TestClient) -> None:
    dataset = data(upload(client, table_bytes("csv"), "export", format="csv"))
    assert (dataset["format"], dataset["rows"], dataset["file_path"].endswith("/export.csv")) == ("csv", 3, True)


def test_an_upload_of_200_mb_is_413_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as file:
        file.truncate(200 * 1024 * 1024)   # sparse: takes no disk
    with served_bridge(tmp_path / "state") as url, big.open("rb") as file:
        response = httpx.post(f"{url}/v1/datasets/upload", files={"file": ("big.csv", file, "text/csv")}, timeout=60)
    error(response, 413, 413)
    assert leftovers(tmp_path / "state" / "datasets") == []
