"""The SDK's jobs, logs, webhooks and ops resources against the real bridge app, served by uvicorn
on a free loopback port, over a real job system in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge
from tests.unit.webhooks.conftest import Receiver


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Client]:
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as client:
        yield client


def test_submit_follow_and_read_a_job(sdk: Client) -> None:
    job = sdk.jobs.submit(type="count", parameters={"to": 3, "slow": True}, name="three")
    lines = list(sdk.logs.stream(job.job_id))
    assert [line.message for line in lines if line.level == "METRIC"] == ["counted 1", "counted 2", "counted 3"]
    done = sdk.jobs.wait(job.job_id, timeout_s=10, poll_s=0.05)
    assert done.status == "completed" and done.result == {"counted": 3} and done.name == "three"
    assert sdk.logs.history(job.job_id, limit=2).logs[0].seq == 1
    assert sdk.jobs.list(type="count").pagination.total == 1
    with pytest.raises(ApiError) as ended:
        sdk.jobs.cancel(job.job_id)
    assert ended.value.status == 409


def test_webhooks_and_ops_logs(sdk: Client) -> None:
    receiver = Receiver()
    try:
        hook = sdk.webhooks.register(receiver.url(), ["job.completed"])
        assert hook.secret and hook.secret.startswith("whsec_")
        job = sdk.jobs.submit(type="count", parameters={"to": 1})
        sdk.jobs.wait(job.job_id, timeout_s=10, poll_s=0.05)
        [request] = receiver.wait_for(1, timeout_s=5)
        assert request.verify(hook.secret)["data"]["job_id"] == job.job_id
        assert sdk.webhooks.deliveries(hook.webhook_id).total == 1
        sdk.webhooks.delete(hook.webhook_id)
        assert sdk.webhooks.list().webhooks == []
    finally:
        receiver.close()
    assert sdk.ops.logs(level="error")["pagination"]["has_more"] is False
    with pytest.raises(ApiError) as bad:
        sdk.ops.logs(level="loud")
    assert bad.value.status == 400
