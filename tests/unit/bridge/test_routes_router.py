"""Router routes: statistics (NaN as null), routing decisions, retraining from the datasets folder."""

from __future__ import annotations

from fastapi.testclient import TestClient

from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph


def test_statistics_say_null_where_the_router_has_no_data(client: TestClient, fake: FakeGraph) -> None:
    fake.router_issues.append("expert 'math' never selected")
    stats = data(client.get("/v1/router/stats"))
    assert stats["total_requests"] == 10 and stats["fallback_rate"] == 0.1
    assert stats["stats"] == [
        {"expert_name": "general", "selections": 7, "avg_confidence": 0.8, "accuracy": None},
        {"expert_name": "math", "selections": 0, "avg_confidence": None, "accuracy": None}]
    assert stats["issues"] == [{"message": "expert 'math' never selected"}]


def test_route_says_which_expert_would_answer(client: TestClient) -> None:
    assert data(client.post("/v1/router/route", json={"prompt": "2+2"})) == {
        "expert": "math", "confidence": 0.9, "fallback": False, "candidates": ["math", "general"],
        "scores": [0.9, 0.1]}


def test_retrain_reads_a_file_of_the_datasets_folder(client: TestClient, fake: FakeGraph,
                                                     settings: BridgeSettings) -> None:
    datasets = settings.state_dir / "datasets"
    datasets.mkdir(parents=True)
    (datasets / "labels.jsonl").write_text('{"prompt": "2+2", "expert": "math"}\n', encoding="utf-8")
    fake.retrain_row_errors.extend(["row 3: no expert", "row 9: empty prompt"])
    message = data(client.post("/v1/router/retrain", json={"training_data_path": "labels.jsonl", "num_epochs": 3}))
    assert message == {"status": "completed", "message": "gate 2 trained on labels.jsonl; rows left out: "
                                                         "row 3: no expert; row 9: empty prompt"}
    assert fake.calls[-1] == ("retrain_router", ((datasets / "labels.jsonl").resolve(), 3))


def test_retrain_refuses_paths_outside_the_datasets_folder(client: TestClient, fake: FakeGraph) -> None:
    error(client.post("/v1/router/retrain", json={"training_data_path": "../api_keys.sqlite3"}), 400, 400)
    error(client.post("/v1/router/retrain", json={"training_data_path": "absent.jsonl"}), 400, 400)
    assert not fake.calls
