"""Expert routes over the registry: create, list, get, update, delete, resize."""

from __future__ import annotations

from fastapi.testclient import TestClient

from embodied_ai.bridge.ports.experts import ExpertFilter, ExpertSpec
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph


def create(client: TestClient, name: str = "chemistry") -> dict:
    response = client.post("/v1/experts/create", json={"name": name, "domain": "chemistry questions",
                                                       "size": "small"})
    assert response.status_code == 201
    return data(response)


def test_create_answers_the_id_and_what_to_do_next(client: TestClient, fake: FakeGraph) -> None:
    created = create(client)
    assert created["expert_id"] == 1 and created["status"] == "initializing" and created["estimated_size_gb"] == 0.05
    assert "POST /v1/datasets/upload" in created["message"] and created["job_id"] is None
    assert fake.calls[-1] == ("create_expert", ExpertSpec(name="chemistry", domain="chemistry questions",
                                                          size="small"))


def test_a_second_expert_of_the_same_name_is_refused(client: TestClient) -> None:
    create(client)
    error(client.post("/v1/experts/create", json={"name": "chemistry", "domain": "x"}), 422, 1002)


def test_list_filters_and_pages(client: TestClient, fake: FakeGraph) -> None:
    create(client, "a")
    create(client, "b")
    page = data(client.get("/v1/experts/list", params={"limit": 1, "offset": 1, "status": "initializing"}))
    assert page["total"] == 2 and page["limit"] == 1 and page["offset"] == 1
    assert [e["name"] for e in page["experts"]] == ["b"]
    assert fake.calls[-1] == ("list_experts", ExpertFilter(status="initializing", limit=1, offset=1))


def test_get_by_id_or_name_in_detail(client: TestClient) -> None:
    create(client)
    by_name = data(client.get("/v1/experts/chemistry"))
    assert by_name == data(client.get("/v1/experts/1"))
    assert by_name["usage_stats"] == {"total_calls": 0, "last_used": None}
    assert by_name["created_at"] == "2026-01-02T03:04:05Z" and by_name["kind"] is None
    error(client.get("/v1/experts/nobody"), 404, 1000)


def test_update_changes_only_what_is_given(client: TestClient) -> None:
    create(client)
    updated = data(client.put("/v1/experts/chemistry", json={"status": "disabled"}))
    assert updated["status"] == "disabled" and updated["domain"] == "chemistry questions"


def test_delete_says_how(client: TestClient) -> None:
    create(client)
    assert data(client.delete("/v1/experts/1", params={"hard_delete": True})) == {
        "expert_id": 1, "hard_delete": True, "status": "hard_deleted"}
    error(client.delete("/v1/experts/1"), 404, 1000)


def test_resize_answers_the_job_that_makes_the_new_version(client: TestClient) -> None:
    create(client)
    response = client.post("/v1/experts/chemistry/resize", json={"d_model": 128, "n_layers": 2, "n_heads": 4})
    resized = data(response)
    assert response.status_code == 201 and resized["status"] == "training" and resized["job_id"] == 1
    assert resized["message"].endswith("follow it at /v1/training/1/status")
