"""Training routes: dataset upload (checked, then handed over and not kept) and training jobs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph


@pytest.fixture
def expert(client: TestClient) -> str:
    client.post("/v1/experts/create", json={"name": "chemistry", "domain": "chemistry"})
    return "chemistry"


def upload(client: TestClient, content: bytes, filename: str = "rows.jsonl", expert: str = "chemistry"):
    return client.post("/v1/datasets/upload", files={"file": (filename, content, "application/octet-stream")},
                       data={"expert_id": expert, "name": "rows"})


def test_an_upload_is_registered_then_not_kept(client: TestClient, fake: FakeGraph, expert: str,
                                               settings: BridgeSettings) -> None:
    dataset = data(upload(client, b'{"text": "a"}\n{"text": "b"}\n'))
    assert dataset["dataset_id"] == 1 and dataset["num_samples"] == 2 and dataset["row_errors"] == []
    path, expert_id, name = fake.calls[-1][1]  # type: ignore[misc]
    assert path.parent == settings.state_dir / "datasets" / "uploads" and (expert_id, name) == (expert, "rows")
    assert not path.exists()


def test_an_upload_for_an_unknown_expert_is_404_and_not_kept(client: TestClient, settings: BridgeSettings) -> None:
    error(upload(client, b"row\n", expert="nobody"), 404, 1000)
    assert not list((settings.state_dir / "datasets" / "uploads").iterdir())


@pytest.mark.parametrize("filename, content, status", [
    ("rows.exe", b"row\n", 400),  # not a dataset suffix
    ("rows.txt", b"\xff\xfe", 400),  # not UTF-8
    ("rows.txt", b"x" * (64 * 1024 + 1), 413),  # over max_upload_bytes
])
def test_a_bad_upload_never_reaches_the_graph(client: TestClient, fake: FakeGraph, expert: str, filename: str,
                                              content: bytes, status: int) -> None:
    error(upload(client, content, filename), status, status)
    assert fake.calls[-1][0] == "create_expert"


def test_a_job_starts_reports_and_stops(client: TestClient, expert: str) -> None:
    response = client.post("/v1/training/start", json={"expert_id": 1, "dataset_id": 0, "num_epochs": 2})
    assert response.status_code == 201
    assert data(response) == {"job_id": 1, "status": "running", "estimated_time_hours": 2.0}
    status = data(client.get("/v1/training/1/status"))
    assert (status["current_epoch"], status["total_epochs"]) == (2, 2)  # 1.25 epochs: the second under way
    assert status["eta_hours"] == 2.0 and status["version"] is None and status["error"] is None
    assert data(client.post("/v1/training/1/stop")) == {"status": "stopped", "checkpoint_saved": True}
    error(client.post("/v1/training/1/stop"), 422, 2000)


def test_an_unknown_job_is_a_training_failure(client: TestClient) -> None:
    error(client.get("/v1/training/42/status"), 422, 2000)
    error(client.get("/v1/training/-1/status"), 400, 400)
