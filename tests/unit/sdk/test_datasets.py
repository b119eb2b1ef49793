"""The SDK's datasets resource against the real bridge app, served by uvicorn on a free loopback port,
over a real dataset registry in this process: seed 004's upload of a file, seed 000's for an expert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge
from tests.unit.datasets.conftest import QA, table_bytes


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Client]:
    with served_bridge(tmp_path / "state") as url, Client(base_url=url, max_retries=0) as client:
        yield client


def test_upload_a_file_then_read_it_back(sdk: Client, tmp_path: Path) -> None:
    path = tmp_path / "training_data.parquet"
    path.write_bytes(table_bytes("parquet"))
    dataset = sdk.datasets.upload(path, description="three questions")
    assert (dataset.dataset_id, dataset.name, dataset.format, dataset.rows) == (1, "training_data.parquet",
                                                                                "parquet", 3)
    assert dataset.analysis.columns == ["prompt", "completion"] and dataset.analysis.text_column == "prompt"
    assert sdk.datasets.get(dataset.dataset_id) == dataset
    preview = sdk.datasets.preview(dataset.dataset_id, limit=2)
    assert (preview.samples, preview.total_rows) == (QA[:2], 3)
    assert [d.dataset_id for d in sdk.datasets.list().datasets] == [1]


def test_upload_training_rows_for_an_expert(sdk: Client) -> None:
    expert = sdk.experts.create(name="python", domain="Python")
    dataset = sdk.datasets.upload(b'{"prompt": "say hi", "completion": "hi"}\n{"prompt": "x"}\n',
                                  expert_id=expert.id, name="Hi")
    assert (dataset.name, dataset.expert, dataset.num_samples, dataset.invalid_rows) == ("Hi", "python", 1, 1)
    assert dataset.status == "ready" and dataset.row_errors == ["row 2: missing field 'completion'"]


def test_refusals_raise_with_their_status_and_code(sdk: Client) -> None:
    with pytest.raises(ApiError) as unknown:
        sdk.datasets.get(42)
    assert (unknown.value.status, unknown.value.code) == (404, 404)
    with pytest.raises(ApiError) as invalid:
        sdk.datasets.upload(b"", name="empty")
    assert (invalid.value.status, invalid.value.code) == (400, 2001)
    with pytest.raises(ApiError) as too_many:
        sdk.datasets.preview(1, limit=10_000)
    assert too_many.value.status == 400
