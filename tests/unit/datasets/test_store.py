"""The dataset registry: every format analysed, seed 000's training validation beside, refusals that
leave nothing behind, preview limits, ids that are never reused, and what training and pipelines read."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from embodied_ai.datasets import DatasetStore
from embodied_ai.datasets.store import INCOMING, STALE_S, TRAINING_FILE, stored_name
from embodied_ai.errors import ErrorCode, InvalidRequest, NotFound
from embodied_ai.experts.datasets import PREVIEW_MAX_LIMIT, DatasetInvalidError, DatasetTooLarge
from tests.unit.datasets.conftest import QA, leftovers, parquet_bytes, table_bytes


@pytest.mark.parametrize("format", ["csv", "json", "jsonl", "parquet", "txt"])
def test_every_format_is_analysed_and_kept_as_uploaded(store: DatasetStore, format: str) -> None:
    data = table_bytes(format)
    dataset = store.add(data, f"qa.{format}")
    view = dataset.to_dict()
    columns = ["text"] if format == "txt" else ["prompt", "completion"]
    assert (view["dataset_id"], view["name"], view["filename"], view["format"]) == (1, f"qa.{format}", f"qa.{format}",
                                                                                     format)
    assert (view["rows"], view["num_rows"], view["columns"], view["size_bytes"]) == (3, 3, columns, len(data))
    assert view["text_column"] == columns[0] and view["analysis"]["rows"] == 3 and view["status"] == "ready"
    stats = view["analysis"]["stats"]
    lengths = [len(row["prompt"]) for row in QA]
    assert (stats["min_length"], stats["max_length"]) == (min(lengths), max(lengths))
    assert view["expert"] is None and view["created_at"].endswith("Z")
    assert store.file(dataset.id).read_bytes() == data and store.file(dataset.id).name == f"qa.{format}"
    assert store.get(dataset.id) == dataset


def test_an_upload_for_an_expert_keeps_its_validated_rows_for_training(store: DatasetStore) -> None:
    rows = [*QA, QA[0], {"prompt": "no answer"}]
    dataset = store.add(table_bytes("jsonl", rows), "python_dataset.jsonl", name="Python Training Data",
                        expert="python", description="sums")
    view = dataset.to_dict()
    assert (view["name"], view["expert"], view["description"]) == ("Python Training Data", "python", "sums")
    assert (view["num_samples"], view["invalid_rows"], view["duplicates_removed"]) == (3, 1, 1)
    assert view["row_errors"] == ["row 5: missing field 'completion'"] and view["rows"] == 5
    assert view["trainable"] and view["training_kind"] == "instruction" and view["training_error"] is None
    training = store.training_file(dataset.id)
    assert [json.loads(line) for line in training.read_text().splitlines()] == QA
    assert store.latest_for_expert("python") == dataset.id and store.latest_for_expert("math") is None


@pytest.mark.parametrize("format", ["json", "parquet"])
def test_json_and_parquet_rows_are_validated_by_their_own_row_numbers(store: DatasetStore, format: str) -> None:
    rows: list[dict[str, object]] = [QA[0], {"prompt": "no answer", "completion": ""}, QA[1]]
    dataset = store.add(table_bytes(format, rows), f"qa.{format}", expert="math")
    view = dataset.to_dict()
    assert (view["num_samples"], view["invalid_rows"]) == (2, 1)
    assert view["row_errors"] == ["row 2: field 'completion' is empty"]
    assert [json.loads(line) for line in store.training_file(dataset.id).read_text().splitlines()] == QA[:2]


def test_rows_a_json_table_refuses_count_as_invalid_training_rows(store: DatasetStore) -> None:
    dataset = store.add(json.dumps([QA[0], 5, QA[1]]).encode(), "qa.json", expert="math")
    assert dataset.to_dict()["row_errors"] == ["row 2: expected a JSON object, got number"]
    assert dataset.to_dict()["num_samples"] == 2


def test_a_table_without_training_rows_is_kept_for_pipelines_but_not_trained_on(store: DatasetStore) -> None:
    dataset = store.add(b"text,label\ngood film,positive\nbad film,negative\n", "reviews.csv")
    view = dataset.to_dict()
    assert (view["rows"], view["text_column"], view["num_samples"], view["trainable"]) == (2, "text", 0, False)
    assert "'prompt' and 'completion'" in view["training_error"]
    with pytest.raises(DatasetInvalidError, match="dataset 1 \\(reviews.csv\\) has no training rows") as caught:
        store.training_file(dataset.id)
    assert caught.value.code is ErrorCode.DATASET_INVALID
    assert not (store.root / dataset.folder / TRAINING_FILE).exists()


@pytest.mark.parametrize("filename, data, expert, message", [
    ("data.parquet", b"text,label\nx,1\n", None, "data.parquet is not a Parquet file"),
    ("empty.csv", b"", None, "has no usable rows"),
    ("blank.txt", b"\n \n", None, "has no usable rows"),
    ("rows.json", b'{"text": "an object, not an array"}', None, "a JSON dataset is an array of objects"),
    ("bytes.csv", b"te\xffxt,label\nx,1\n", None, "the column name 'te\\?xt' is not valid UTF-8"),
    ("reviews.csv", b"text,label\ngood,1\n", "python", "'prompt' and 'completion'"),   # an expert's, no training rows
    ("qa.jsonl", b'{"prompt": "x"}\n', "python", "row 1: missing field 'completion'"),
])
def test_a_refused_dataset_leaves_nothing_behind(store: DatasetStore, filename: str, data: bytes, expert: str | None,
                                                 message: str) -> None:
    with pytest.raises(DatasetInvalidError, match=message) as caught:
        store.add(data, filename, expert=expert)
    assert caught.value.code is ErrorCode.DATASET_INVALID
    assert leftovers(store.root) == [] and store.list() == ([], 0)


def test_a_dataset_over_the_size_limit_is_refused_before_it_is_copied(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "operations.sqlite", tmp_path / "datasets", max_bytes=1024)
    big = tmp_path / "big.txt"
    big.write_bytes(b"a line of text\n" * 100)
    for source in (big, big.read_bytes()):
        with pytest.raises(DatasetTooLarge, match="more than the limit of 0.0 MB") as caught:
            store.add(source, "big.txt")
        assert caught.value.code is ErrorCode.DATASET_INVALID
    assert leftovers(store.root) == [] and store.list() == ([], 0)
    store.close()


def test_every_problem_with_the_arguments_is_listed(store: DatasetStore) -> None:
    with pytest.raises(InvalidRequest) as caught:
        store.add(b"x\n", "x.txt", name="n" * 201, expert="", description="d" * 1001, format="xls")
    assert caught.value.problems == [
        "name: text of at most 200 characters", "expert: an expert's id or name, 1 to 64 characters",
        "description: text of at most 1000 characters", "format: 'xls' is not one of csv, json, jsonl, parquet, txt"]
    with pytest.raises(InvalidRequest, match="give the file's name"):
        store.add(b"x\n", "")
    assert leftovers(store.root) == []


def test_the_format_comes_from_the_declaration_then_the_suffix_then_the_content(store: DatasetStore) -> None:
    declared = store.add(b"prompt,completion\na,b\n", "upload.dat", format="CSV")
    assert (declared.format, declared.stored_name, declared.to_dict()["columns"]) == ("csv", "upload.dat.csv",
                                                                                     ["prompt", "completion"])
    sniffed = store.add(parquet_bytes(QA), "no_suffix")
    assert (sniffed.format, sniffed.stored_name, sniffed.to_dict()["rows"]) == ("parquet", "no_suffix.parquet", 3)
    with pytest.raises(DatasetInvalidError, match="cannot tell the format of upload"):
        store.add(b"plain words\n", "notes")
    assert stored_name("../../etc/pass wd.csv", "csv") == "pass_wd.csv"
    assert stored_name("training.jsonl", "jsonl") == "upload-training.jsonl"   # never the validated rows' name


def test_preview_is_bounded_and_reads_the_first_rows(store: DatasetStore) -> None:
    dataset = store.add(table_bytes("csv"), "qa.csv")
    assert store.preview(dataset.id, limit=2) == {"dataset_id": 1, "samples": QA[:2], "total_rows": 3}
    assert store.preview(str(dataset.id))["samples"] == QA
    for bad in (0, PREVIEW_MAX_LIMIT + 1, 10_000):
        with pytest.raises(InvalidRequest) as caught:
            store.preview(dataset.id, limit=bad)
        assert caught.value.problems == [f"limit: {bad!r} is not an integer from 1 to {PREVIEW_MAX_LIMIT}"]
    with pytest.raises(NotFound, match="dataset 99 does not exist"):
        store.preview(99)


def test_ids_are_never_reused_and_lists_are_newest_first(store: DatasetStore) -> None:
    first, second = (store.add(table_bytes("jsonl"), f"{n}.jsonl") for n in ("a", "b"))
    store.delete(second.id)
    assert not (store.root / second.folder).exists()
    third = store.add(table_bytes("jsonl"), "c.jsonl")
    assert (first.id, second.id, third.id) == (1, 2, 3)
    page, total = store.list(limit=1)
    assert [d.id for d in page] == [3] and total == 2
    assert [d.id for d in store.list(limit=5, offset=1)[0]] == [1]
    with pytest.raises(InvalidRequest) as caught:
        store.list(limit=0, offset=-1)
    assert len(caught.value.problems) == 2
    for unknown in (2, "2", "ds_xyz789"):
        with pytest.raises(NotFound):
            store.get(unknown)


def test_datasets_survive_a_reopened_store(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "operations.sqlite", tmp_path / "datasets")
    added = store.add(table_bytes("parquet"), "qa.parquet", expert="python")
    store.close()
    reopened = DatasetStore(tmp_path / "operations.sqlite", tmp_path / "datasets")
    assert reopened.get(added.id) == added and reopened.training_file(added.id).is_file()
    reopened.close()


def test_a_failed_insert_leaves_no_folder(store: DatasetStore) -> None:
    store.close()   # the database refuses the insert, after the file was analysed and moved into place
    with pytest.raises(Exception, match="closed"):
        store.add(table_bytes("csv"), "qa.csv")
    assert leftovers(store.root) == []


def test_a_file_is_taken_from_inside_the_datasets_directory_only(store: DatasetStore, tmp_path: Path) -> None:
    upload = store.root / "uploads" / "a1b2.csv"
    upload.parent.mkdir()
    upload.write_bytes(table_bytes("csv"))
    dataset = store.add(store.inside(upload), "qa.csv")
    upload.unlink()   # the store keeps its own copy
    assert store.file(dataset.id).read_bytes() == table_bytes("csv")
    outside = tmp_path / "secret.csv"
    outside.write_text("prompt,completion\na,b\n")
    for path in (outside, store.root / ".." / "secret.csv", ""):
        with pytest.raises(InvalidRequest, match="not inside the datasets directory"):
            store.inside(path)
    with pytest.raises(NotFound):
        store.inside(store.root / "uploads" / "gone.csv")


def test_what_a_crashed_add_left_is_removed_when_the_store_opens(tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    store = DatasetStore(tmp_path / "operations.sqlite", root)
    kept = store.add(table_bytes("csv"), "qa.csv")
    store.close()
    stale = [root / INCOMING / "0f0f", root / "ds-0f0f"]
    fresh = root / INCOMING / "1e1e"   # an add under way in another process
    for folder in (*stale, fresh):
        folder.mkdir(parents=True)
        (folder / "upload").write_bytes(b"x")
    old = time.time() - STALE_S - 60
    for folder in (*stale, root / kept.folder):
        os.utime(folder, (old, old))
    reopened = DatasetStore(tmp_path / "operations.sqlite", root)
    assert not any(folder.exists() for folder in stale) and fresh.exists()
    assert reopened.file(kept.id).is_file()
    reopened.close()
