"""Training routes: training jobs (dataset uploads are test_routes_datasets.py's)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.unit.bridge.envelope import data, error


@pytest.fixture
def expert(client: TestClient) -> str:
    client.post("/v1/experts/create", json={"name": "chemistry", "domain": "chemistry"})
    return "chemistry"


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
