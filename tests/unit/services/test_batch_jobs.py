"""Seed 002's batch processing as a job, through a real JobStore and JobRunner: NLP over a dataset's text
column and over a folder of .txt files, vision over a folder of photos, the experts (here: none serve, as in a
jobs node without an experts node) over prompts; a failed item gets its error and the batch goes on; a killed
job resumes after its last complete line; bad requests are refused at submit with every problem."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.datasets import DatasetStore
from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest
from embodied_ai.experts.batch_jobs import Completion
from embodied_ai.jobs import Job, JobRunner, JobStatus, JobStore
from embodied_ai.jobs.config import JobsNodeConfig
from embodied_ai.jobs.system import JobSystem
from embodied_ai.services.batch_jobs import BATCH_PROCESSING_JOB, OUTPUT_FILE, BatchProcessing
from tests.unit.vision_samples import ensure_classifier_built, sample_photo_path

pytestmark = pytest.mark.timeout(300)   # the vision test may export the classifier into the cache first

REPORT = ("The robot arm picked up the red cup. The arm then placed the cup on the shelf. "
          "Operators watched the arm work for an hour. Nobody had to stop the arm.")


def no_experts(prompt: str, expert: str, system: str, max_tokens: int, temperature: float) -> Completion:
    raise EmbodiedError("no experts serve here", ErrorCode.EXPERT_NOT_READY)


@pytest.fixture
def datasets(tmp_path: Path) -> Iterator[DatasetStore]:
    store = DatasetStore(tmp_path / "operations.sqlite", tmp_path / "datasets")
    yield store
    store.close()


@pytest.fixture
def batch(datasets: DatasetStore, tmp_path: Path) -> BatchProcessing:
    return BatchProcessing(tmp_path / "work", tmp_path / "datasets", lambda i: (
        datasets.file(i), datasets.get(i).analysis.get("text_column")), no_experts)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    jobs = JobStore(tmp_path / "operations.sqlite")
    yield jobs
    jobs.close()


def folder(tmp_path: Path, name: str, files: dict[str, str | bytes]) -> str:
    path = tmp_path / "datasets" / name
    path.mkdir(parents=True)
    for file, content in files.items():
        (path / file).write_bytes(content.encode() if isinstance(content, str) else content)
    return name


def wait(store: JobStore, job: Job) -> Job:
    deadline = time.monotonic() + 120
    while not (job := store.get(job.id)).status.terminal:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job


def run(store: JobStore, batch: BatchProcessing, config: dict[str, Any]) -> Job:
    runner = JobRunner(store, {BATCH_PROCESSING_JOB: batch.kind()}, poll_s=0.05)
    runner.start()
    try:
        return wait(store, runner.submit(BATCH_PROCESSING_JOB, config))
    finally:
        runner.stop()


def lines(job: Job) -> list[dict[str, Any]]:
    assert job.status is JobStatus.COMPLETED and job.result is not None, job.error
    return [json.loads(line) for line in Path(job.result["output_file"]).read_text().splitlines()]


def test_nlp_analyses_a_datasets_text_column_row_by_row(batch: BatchProcessing, datasets: DatasetStore,
                                                        store: JobStore) -> None:
    dataset = datasets.add(b"id,text\n1,I love this robot and it works perfectly.\n2,,\n"
                           b"3,The arm broke again and I am angry and sad.\n", "reviews.csv")
    job = run(store, batch, {"service": "nlp", "operation": "analyze", "dataset_id": dataset.id,
                             "analysis_types": ["sentiment", "keywords"], "max_keywords": 3})
    rows = lines(job)
    # Rows numbered as in the file (the header is row 1); the row without text is left out.
    assert [(r["index"], r["row"]) for r in rows] == [(0, 2), (1, 4)]
    assert [r["sentiment"]["label"] for r in rows] == ["positive", "negative"]
    assert all(0 < len(r["keywords"]) <= 3 and r["entities"] is None for r in rows)
    assert job.result is not None and (job.result["count"], job.result["failed"]) == (2, 0)
    assert job.result["outputs"] == rows and job.progress == 1.0


def test_nlp_summarises_a_folders_text_files_and_a_failed_file_does_not_stop_the_batch(
        batch: BatchProcessing, store: JobStore, tmp_path: Path) -> None:
    notes = folder(tmp_path, "notes", {"a.txt": REPORT, "b.txt": "", "c.txt": REPORT, "skip.md": REPORT})
    job = run(store, batch, {"service": "nlp", "operation": "summarize", "input_source": notes,
                             "max_length": 12, "min_length": 3})
    rows = lines(job)
    assert [r["file"] for r in rows] == ["notes/a.txt", "notes/b.txt", "notes/c.txt"]
    assert rows[1]["error"]["code"] == 400 and rows[1]["error"]["problems"] == ["text is empty"]
    for row in rows[0], rows[2]:
        assert 3 <= row["summary_length"] <= 12 and row["original_length"] == len(REPORT.split())
    assert job.result is not None and (job.result["count"], job.result["succeeded"], job.result["failed"]) == (3, 2, 1)


def test_vision_classifies_and_analyses_a_folder_of_photos(batch: BatchProcessing, store: JobStore,
                                                           tmp_path: Path) -> None:
    ensure_classifier_built()
    photos = tmp_path / "datasets" / "photos"
    photos.mkdir(parents=True)
    shutil.copy(sample_photo_path("skimage", "data/chelsea.png"), photos / "1_cat.png")
    shutil.copy(sample_photo_path("skimage", "data/coffee.png"), photos / "2_coffee.png")
    (photos / "3_broken.jpg").write_bytes(b"not a jpeg")
    classified = lines(run(store, batch, {"service": "vision", "operation": "classify", "input_source": "photos",
                                          "top_k": 3}))
    assert [r["file"] for r in classified] == ["photos/1_cat.png", "photos/2_coffee.png", "photos/3_broken.jpg"]
    assert {p["class_id"] for p in classified[0]["predictions"]} & {281, 282, 285}   # tabby, tiger cat, ...
    assert classified[1]["predictions"][0]["class"] == "espresso" and len(classified[1]["predictions"]) == 3
    assert "could not be decoded" in classified[2]["error"]["message"]
    analysed = lines(run(store, batch, {"service": "vision", "operation": "analyze", "input_source": "photos",
                                        "analysis_type": "scene_analysis"}))
    scene = analysed[1]["scene"]
    assert 0.0 < scene["brightness"] < 1.0 and scene["top_classes"][0]["class"] == "espresso"
    assert "text" not in analysed[1] and analysed[1]["image_info"] == {"width": 600, "height": 400}


def test_a_killed_job_resumes_after_its_last_complete_line(batch: BatchProcessing, store: JobStore,
                                                           tmp_path: Path) -> None:
    notes = folder(tmp_path, "notes", {"a.txt": REPORT, "b.txt": REPORT, "c.txt": REPORT})
    job = store.submit(BATCH_PROCESSING_JOB, {"service": "nlp", "operation": "summarize", "input_source": notes})
    work = tmp_path / "work" / f"job-{job.id}"   # what a killed attempt left: one line, and half of the next
    work.mkdir(parents=True)
    (work / OUTPUT_FILE).write_text(json.dumps({"index": 0, "file": "notes/a.txt", "summary": "kept"})
                                    + '\n{"index": 1, "fi')
    runner = JobRunner(store, {BATCH_PROCESSING_JOB: batch.kind()}, poll_s=0.05)
    runner.start()
    try:
        rows = lines(wait(store, job))
    finally:
        runner.stop()
    assert [r["file"] for r in rows] == ["notes/a.txt", "notes/b.txt", "notes/c.txt"]
    assert rows[0]["summary"] == "kept" and rows[1]["summary"] and rows[1]["summary"] != "kept"


def test_bad_requests_are_refused_at_submit_with_every_problem(batch: BatchProcessing, store: JobStore,
                                                               tmp_path: Path) -> None:
    notes = folder(tmp_path, "notes", {"a.txt": REPORT})
    folder(tmp_path, "empty", {"a.md": "no text files"})
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("not to be read")
    (tmp_path / "datasets" / "link").symlink_to(tmp_path / "outside")
    runner = JobRunner(store, {BATCH_PROCESSING_JOB: batch.kind()})

    def refused(config: dict[str, Any]) -> list[str]:
        with pytest.raises(InvalidRequest) as error:
            runner.submit(BATCH_PROCESSING_JOB, config)
        return error.value.problems

    assert refused({"service": "speech", "input_source": notes})[0].startswith("service")
    assert "translate" in refused({"service": "nlp", "operation": "translate", "input_source": notes})[0]
    assert "dataset 999" in refused({"service": "nlp", "dataset_id": 999})[0]
    assert "outside" in refused({"service": "nlp", "input_source": "../outside"})[0]
    assert "outside" in refused({"service": "nlp", "input_source": "link"})[0]
    assert "no .txt files" in refused({"service": "nlp", "input_source": "empty"})[0]
    assert "no folder" in refused({"service": "nlp", "input_source": "missing"})[0]
    assert len(refused({"service": "nlp", "operation": "summarize", "input_source": notes, "max_length": 5,
                        "min_length": 9, "top_k": 2})) == 2   # min > max; top_k is vision's
    seed = refused({"service": "vision", "input_source": "s3://bucket/images/", "analysis_type": "object_detection",
                    "model": "yolo-v8", "output_format": "json"})   # seed 002's example
    assert len(seed) == 3 and any("perception node" in p for p in seed) and any("s3://" in p for p in seed)
    assert len(refused({"service": "nlp", "input_source": notes, "analysis_types": ["mood"], "max_keywords": 0,
                        "language": "xx"})) == 3
    assert any("give one of input_source" in p for p in refused({"service": "vision", "prompts": ["hi"]}))
    assert store.list()[1] == 0


def test_the_jobs_node_runs_llm_batches_and_refuses_each_prompt_without_an_experts_node(tmp_path: Path) -> None:
    system = JobSystem.open(JobsNodeConfig(state_dir=str(tmp_path / "state"), poll_s=0.05))
    try:
        system.start()
        job = system.runner.submit(BATCH_PROCESSING_JOB, {"service": "llm", "prompts": ["Say hi.", "Say yes."]})
        rows = lines(wait(system.store, job))
        assert [(r["prompt"], r["error"]["code"]) for r in rows] == [(0, 1001), (1, 1001)]
        assert job.config["service"] == "llm"
    finally:
        system.close()


def test_the_kind_loads_no_nlp_or_vision_library_until_a_job_needs_it() -> None:
    libraries = ("embodied_ai.nlp", "embodied_ai.perception.classifier", "embodied_ai.perception.ocr",
                 "embodied_ai.perception.scene_analysis", "onnxruntime", "cv2", "pysbd")
    loaded = subprocess.run([sys.executable, "-c", (
        "import sys; import embodied_ai.services.batch_jobs; "
        f"print(sorted(m for m in sys.modules if m.startswith({libraries!r})))")],
        capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
