"""Fixtures of the pipeline tests: a real SQLite job store, services on temporary directories, a claimed
job's context for running one agent, and dataset files written in every format."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embodied_ai.jobs import JobContext, JobStore
from embodied_ai.pipelines import AgentContext, PipelineServices
from tests.unit.tiny_models import build_tiny_base

QA = [
    {"question": "What is 2 + 2?", "answer": "4", "topic": "math"},
    {"question": "  Name a  colour\x07 ", "answer": "red\r\n", "topic": "art"},
    {"question": "What is 2 + 2?", "answer": "4", "topic": "math"},             # a duplicate
    {"question": "Capital of France?", "answer": "", "topic": "geo"},           # no answer
    {"question": "Translate 'cat'", "answer": "chat", "topic": "lang"},
]


def write_dataset(directory: Path, format: str, rows: list[dict[str, Any]] = QA, name: str = "qa") -> Path:
    """``rows`` as a real file of ``format`` (TXT: the questions, one per line)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.{format}"
    if format == "csv":
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif format == "json":
        path.write_text(json.dumps(rows))
    elif format == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif format == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(f"{row['question']}\n" for row in rows))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "state" / "operations.sqlite")
    yield store
    store.close()


@pytest.fixture
def services(tmp_path: Path) -> PipelineServices:
    (tmp_path / "datasets").mkdir()
    return PipelineServices(datasets_dir=tmp_path / "datasets", work_root=tmp_path / "work")


@pytest.fixture
def job_ctx(store: JobStore) -> JobContext:
    """The context of a running (claimed) job, as a worker would give its body."""
    store.submit("pipeline")
    job = store.claim()
    assert job is not None
    return JobContext(store, job, threading.Event())


@pytest.fixture
def agent_ctx(job_ctx: JobContext, services: PipelineServices) -> Callable[..., AgentContext]:
    def make(name: str = "step", agent_class: str = "Agent", on: PipelineServices | None = None) -> AgentContext:
        return AgentContext(job_ctx, name, agent_class, on or services)
    return make


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny llama's HF folder (`tests.unit.tiny_models`): the shared base of the model services' tests."""
    base = tmp_path_factory.mktemp("tiny") / "base"
    build_tiny_base(base)
    return base
