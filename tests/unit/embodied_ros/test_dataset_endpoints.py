"""The dataset services on a node in this process (no graph): an upload in the datasets folder is added and
read back as JSON, and refusals answer their code, reason and problems instead of raising into rclpy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from embodied_interfaces.srv import AddDataset, GetDataset, ListDatasets, PreviewDataset
from rclpy.context import Context
from rclpy.node import Node

from embodied_ai.datasets import DatasetStore
from embodied_ros.dataset_endpoints import DatasetEndpoints

SERVICES = {"add_dataset": AddDataset, "get_dataset": GetDataset, "preview_dataset": PreviewDataset,
            "list_datasets": ListDatasets}


@pytest.fixture
def node(context: Context, tmp_path: Path) -> Iterator[Node]:
    node = Node("jobs", context=context, start_parameter_services=False)
    store = DatasetStore(tmp_path / "operations.sqlite", tmp_path / "datasets")
    DatasetEndpoints(node, store)
    yield node
    node.destroy_node()
    store.close()


def call(node: Node, name: str, **fields: Any) -> Any:
    service = next(s for s in node.services if s.srv_name == name)
    kind = SERVICES[name]
    return service.callback(kind.Request(**fields), kind.Response())


def test_an_upload_in_the_datasets_folder_is_added_and_read_back(node: Node, tmp_path: Path) -> None:
    assert {s.srv_name for s in node.services} >= set(SERVICES)
    upload = tmp_path / "datasets" / "uploads" / "f00d.jsonl"
    upload.parent.mkdir(parents=True)
    upload.write_text('{"prompt": "2+2", "completion": "4"}\n{"prompt": "3+3"}\n')
    added = call(node, "add_dataset", path=str(upload), filename="sums.jsonl", expert="math")
    assert added.success, added.message
    dataset = json.loads(added.dataset_json)
    assert (dataset["dataset_id"], dataset["name"], dataset["num_samples"], dataset["row_errors"]) == (
        1, "sums.jsonl", 1, ["row 2: missing field 'completion'"])
    assert json.loads(call(node, "get_dataset", dataset_id=1).dataset_json) == dataset
    preview = call(node, "preview_dataset", dataset_id=1)
    assert json.loads(preview.preview_json) == {"dataset_id": 1, "total_rows": 2, "samples": [
        {"prompt": "2+2", "completion": "4"}, {"prompt": "3+3"}]}
    listed = call(node, "list_datasets")
    assert [d["dataset_id"] for d in json.loads(listed.datasets_json)] == [1] and listed.total == 1


def test_refusals_answer_their_code_and_problems(node: Node, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("prompt,completion\na,b\n")
    refused = call(node, "add_dataset", path=str(outside), filename="elsewhere.csv")
    assert (refused.success, refused.error_code) == (False, 400) and "outside" in refused.problems[0]
    upload = tmp_path / "datasets" / "bad.jsonl"
    upload.write_text('{"prompt": "x"}\n')
    invalid = call(node, "add_dataset", path=str(upload), filename="bad.jsonl", expert="math")
    assert (invalid.success, invalid.error_code) == (False, 2001) and "row 1: missing field" in invalid.message
    assert (call(node, "get_dataset", dataset_id=7).error_code, call(node, "preview_dataset", dataset_id=7,
                                                                     limit=5).error_code) == (404, 404)
    too_many = call(node, "preview_dataset", dataset_id=1, limit=10_000)
    assert too_many.error_code == 400 and too_many.problems == ["limit: 10000 is not an integer from 1 to 100"]
