"""Fixtures of the dataset registry's tests: a store on a real SQLite file and folder, and file makers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embodied_ai.datasets import DatasetStore

QA = [{"prompt": "What is 2 + 2?", "completion": "4"}, {"prompt": "Capital of France?", "completion": "Paris"},
      {"prompt": "Opposite of up?", "completion": "down"}]


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def table_bytes(format: str, rows: list[dict[str, Any]] = QA) -> bytes:
    """``rows`` as a file of ``format``."""
    if format == "parquet":
        return parquet_bytes(rows)
    if format == "json":
        return json.dumps(rows).encode()
    if format == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    if format == "csv":
        columns = list(rows[0])
        lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in rows]
        return "".join(line + "\n" for line in lines).encode()
    return "".join(f"{row['prompt']}\n" for row in rows).encode()   # txt: one text a line


def leftovers(root: Path) -> list[str]:
    """Everything under the datasets directory but the (empty) staging folder."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p != root / ".incoming")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DatasetStore]:
    store = DatasetStore(tmp_path / "operations.sqlite", tmp_path / "datasets")
    yield store
    store.close()
