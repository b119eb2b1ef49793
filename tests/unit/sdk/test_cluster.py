"""The SDK's cluster resource and `embodied cluster ...` against the real bridge app served on loopback,
over a real job system (a ``training`` test double) and a real cluster (the local backend)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.cli import main
from embodied_ai.sdk import ApiError, Client
from tests.unit.bridge.cluster_app import served_cluster


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with served_cluster(tmp_path / "state") as base_url:
        yield base_url


def wait_status(client: Client, task_id: str, status: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (task := client.cluster.task(task_id)).status != status:
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def test_the_sdk_creates_follows_pauses_resumes_and_deletes_tasks(url: str) -> None:
    with Client(base_url=url) as client:
        created = client.cluster.create_task("kitchen", max_steps=20, batch_size=4,
                                             requirements={"min_cpu_cores": 1})
        wait_status(client, created.id, "running")
        assert client.cluster.pause_task(created.id, "test").requested == "paused"
        wait_status(client, created.id, "paused")
        assert [task.id for task in client.cluster.tasks(status="paused").tasks] == [created.id]
        client.cluster.resume_task(created.id)
        client.cluster.delete_task(created.id)   # stops it
        wait_status(client, created.id, "stopped")
        detail = client.cluster.task(created.id)
        assert detail.config.batch_size == 4 and detail.requirements == {"min_cpu_cores": 1}
        metrics = client.cluster.task_metrics(created.id)
        assert metrics.task_id == int(created.id) and metrics.history
        [worker] = client.cluster.clients().clients
        assert client.cluster.client(worker.id).id == "local"
        with pytest.raises(ApiError) as refused:
            client.cluster.set_task_status(created.id, "sleeping")
        assert refused.value.status == 400


def test_embodied_cluster_commands(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "--url", url, "workers"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("backend local: 1 worker(s)") and "local  online" in listed
    assert main(["cluster", "--url", url, "create", "kitchen", "--max-steps", "30"]) == 0
    assert capsys.readouterr().out.strip() == "task 1: pending"
    with Client(base_url=url) as client:
        wait_status(client, "1", "running")
    assert main(["cluster", "--url", url, "pause", "1", "--reason", "maintenance"]) == 0
    assert capsys.readouterr().out.startswith("task 1: paused asked")
    with Client(base_url=url) as client:
        wait_status(client, "1", "paused")
    assert main(["cluster", "--url", url, "tasks"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["1", "paused"]
    assert main(["cluster", "--url", url, "stop", "1"]) == 0
    assert "stopped asked, stopped now" in capsys.readouterr().out
    assert main(["cluster", "--url", url, "metrics", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["task_id"] == 1
    assert main(["cluster", "--url", url, "worker", "local"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "local"
    assert main(["cluster", "--url", url, "resume", "1"]) == 2   # a stopped task cannot resume
    assert "embodied cluster resume:" in capsys.readouterr().err
