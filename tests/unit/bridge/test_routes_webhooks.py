"""The Webhooks API over real webhooks in this process: a registered receiver on loopback gets a
correctly signed job.completed, the delivery log shows it, a redelivery keeps its webhook-id;
refused URLs list every problem."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.unit.bridge.test_routes_jobs import submit, wait_for
from tests.unit.webhooks.conftest import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_a_finished_job_is_announced_signed_and_logged(client: TestClient, receiver: Receiver) -> None:
    registered = client.post("/v1/webhooks", json={"url": receiver.url(), "events": ["job.completed"],
                                                   "secret": "your_webhook_secret"})
    assert registered.status_code == 201, registered.text
    webhook = registered.json()["data"]
    assert webhook["secret"] == "your_webhook_secret" and webhook["webhook_id"].startswith("wh_")
    assert client.get("/v1/webhooks").json()["data"]["webhooks"][0]["secret"] is None   # shown once
    job_id = submit(client, parameters={"to": 1})["job_id"]
    wait_for(client, job_id, "completed")
    [request] = receiver.wait_for(1)
    body = request.verify(b"your_webhook_secret")
    assert body["type"] == "job.completed" and body["data"]["job_id"] == job_id
    assert body["data"]["results_url"] == f"/v1/jobs/{job_id}"
    log = client.get(f"/v1/webhooks/{webhook['webhook_id']}/deliveries").json()["data"]
    [delivery] = log["deliveries"]
    assert log["total"] == 1 and delivery["delivery_id"] == request.headers["webhook-id"]
    again = client.post(f"/v1/webhooks/deliveries/{delivery['delivery_id']}/redeliver")
    assert again.status_code == 200, again.text
    assert receiver.wait_for(2)[1].headers["webhook-id"] == delivery["delivery_id"]


def test_refused_webhooks_list_every_problem(client: TestClient) -> None:
    refused = client.post("/v1/webhooks", json={"url": "ftp://user:pw@203.0.113.5/x",
                                                "events": ["job.completed", "job.exploded"]})
    assert refused.status_code == 400
    problems = refused.json()["error"]["details"]["problems"]
    assert any("ftp" in p for p in problems) and any("job.exploded" in p for p in problems)
    assert any("203.0.113.5" in p for p in problems)
    assert client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": []}).status_code == 400
    assert client.delete("/v1/webhooks/wh_0123").status_code == 404
    assert client.get("/v1/webhooks/wh_0123/deliveries").status_code == 404
    assert client.delete("/v1/webhooks/not-an-id").status_code == 400
