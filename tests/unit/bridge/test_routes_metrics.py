"""GET /v1/metrics (seed 001's system metrics, in the envelope): the bridge's CPU and memory samples per
interval, the training jobs' figures through the jobs port, 400 listing every problem of the window,
training null while the jobs node is away; and the SDK's ``monitoring.history`` over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embodied_ai import Client
from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.system_samples import SystemSampler
from embodied_ai.errors import ErrorCode, GraphUnavailable
from embodied_ai.sdk import ApiError
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.served import served_bridge
from tests.unit.bridge.stored_jobs import StoredJobs


class AbsentJobs:
    """The jobs port while the jobs node is not in the graph."""

    def __getattr__(self, name: str) -> Any:
        async def absent(*args: object) -> None:
            raise GraphUnavailable("list_jobs", ErrorCode.TRAINING_FAILED, "the jobs node is not running")
        return absent


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[StoredJobs]:
    jobs = StoredJobs(tmp_path / "stored.sqlite")
    yield jobs
    jobs.close()


@pytest.fixture
def client(fake: FakeGraph, settings: BridgeSettings, stored: StoredJobs) -> Iterator[TestClient]:
    with TestClient(create_app(replace(fake.ports(), jobs=stored), settings)) as test_client:
        yield test_client


def sampler(client: TestClient) -> SystemSampler:
    system: SystemSampler = client.app.state.metrics.system
    return system


def test_the_system_series_and_the_training_figures(client: TestClient, stored: StoredJobs) -> None:
    for minute, second, cpu, memory in ((0, 10, 0.5, 0.4), (0, 50, 0.7, 0.6), (2, 0, 0.9, 0.5), (5, 0, 0.1, 0.1)):
        sampler(client).record(cpu, memory, datetime(2024, 3, 20, 12, minute, second, tzinfo=timezone.utc))
    stored.completed("training", 2 * 3600)
    stored.completed("rl_training", 3600)
    stored.running("pipeline")
    stored.queued("training")

    metrics = data(client.get("/v1/metrics", params={"start_time": "2024-03-20T12:00:00Z",
                                                     "end_time": "2024-03-20T12:03:00Z", "interval": "1m"}))
    assert (metrics["interval"], metrics["start_time"], metrics["end_time"]) == (
        "1m", "2024-03-20T12:00:00.000Z", "2024-03-20T12:03:00.000Z")
    stamps = ["2024-03-20T12:00:00.000Z", "2024-03-20T12:02:00.000Z"]      # 12:01 had no sample
    assert metrics["system"]["cpu_usage"] == {"values": [pytest.approx(0.6), 0.9], "timestamps": stamps}
    assert metrics["system"]["memory_usage"] == {"values": [pytest.approx(0.5), 0.5], "timestamps": stamps}
    assert metrics["training"] == {"active_tasks": 2, "completed_tasks": 2, "average_training_time": "1h30m",
                                   "average_training_time_s": 5400.0}
    assert "kubernetes" not in metrics


def test_the_default_window_shows_the_samples_monitoring_metrics_takes(client: TestClient) -> None:
    now = data(client.get("/v1/monitoring/metrics"))["system"]["cpu_usage"]
    assert sampler(client).samples()[-1].cpu * 100 == pytest.approx(now)     # one sampler, one CPU baseline
    metrics = data(client.get("/v1/metrics"))
    start, end = (datetime.fromisoformat(metrics[k].replace("Z", "+00:00")) for k in ("start_time", "end_time"))
    assert metrics["interval"] == "1m" and (end - start).total_seconds() == 3600
    assert metrics["system"]["cpu_usage"]["values"][-1] == pytest.approx(now / 100)
    assert metrics["training"] == {"active_tasks": 0, "completed_tasks": 0, "average_training_time": None,
                                   "average_training_time_s": None}


def test_bad_windows_are_400_with_every_problem(client: TestClient) -> None:
    refused = error(client.get("/v1/metrics", params={"start_time": "yesterday", "end_time": "2024-03-20T12:00:00",
                                                      "interval": "2m"}), 400, 400)
    assert [p.split(":")[0] for p in refused["details"]["problems"]] == ["interval", "end_time", "start_time"]
    backwards = error(client.get("/v1/metrics", params={"start_time": "2024-03-20T13:00:00Z",
                                                        "end_time": "2024-03-20T12:00:00Z"}), 400, 400)
    assert "not after start_time" in backwards["details"]["problems"][0]
    too_many = error(client.get("/v1/metrics", params={"start_time": "2024-03-01T00:00:00Z",
                                                       "end_time": "2024-03-20T00:00:00Z"}), 400, 400)
    assert "buckets of 1m; at most 10000" in too_many["details"]["problems"][0]
    assert data(client.get("/v1/metrics", params={"start_time": "2024-03-01T00:00:00Z",
                                                  "end_time": "2024-03-20T00:00:00Z", "interval": "1h"}))


def test_without_the_jobs_node_training_is_null(fake: FakeGraph, settings: BridgeSettings) -> None:
    with TestClient(create_app(replace(fake.ports(), jobs=AbsentJobs()), settings)) as client:
        sampler(client).sample()
        metrics = data(client.get("/v1/metrics"))
        assert metrics["training"] is None and len(metrics["system"]["cpu_usage"]["values"]) == 1


def test_the_sdk_reads_the_history(tmp_path: Path) -> None:
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as sdk:
        now = sdk.monitoring.metrics().system.cpu_usage
        history = sdk.monitoring.history(interval="5m")
        assert history.interval == "5m" and history.system.cpu_usage.values[-1] == pytest.approx(now / 100)
        assert history.training is not None and history.training.completed_tasks == 0
        with pytest.raises(ApiError) as refused:
            sdk.monitoring.history(start_time="soon")
        assert refused.value.status == 400 and "start_time" in str(refused.value.details)
