"""Dataset loading for expert training: each malformed-row case is reported by row number and
the good rows are kept; dedup, stats and a reproducible split."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embodied_ai.errors import ErrorCode, InvalidRequest, NotFound
from embodied_ai.experts.datasets import (
    PREVIEW_MAX_LIMIT,
    DatasetInvalidError,
    DatasetTooLarge,
    LengthStats,
    analyse,
    check_dataset_size,
    detect_text_column,
    load_dataset,
    preview,
    read_records,
    resolve_dataset_path,
    rows_to_jsonl,
    save_dataset_stream,
    split,
    table_format,
    write_records_jsonl,
)

GOOD = {"prompt": "What is 2 + 2?", "completion": "4"}


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    data = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    path.write_bytes(data)
    return path


def jsonl(tmp_path: Path, *records: object, name: str = "data.jsonl") -> Path:
    lines = [r if isinstance(r, (str, bytes)) else json.dumps(r) for r in records]
    return write_lines(tmp_path / name, lines)


def errors_by_row(dataset) -> dict[int, str]:
    return {e.row: e.message for e in dataset.errors}


@pytest.mark.parametrize(
    ("bad_row", "message_part"),
    [
        ("{not json", "not valid JSON"),
        ('["a", "list"]', "expected a JSON object"),
        ({"question": "q", "answer": "a"}, "unknown row shape"),
        ({"prompt": "only a prompt"}, "missing field 'completion'"),
        ({"prompt": "q", "completion": 42}, "field 'completion' must be a string"),
        ({"prompt": "   ", "completion": "a"}, "field 'prompt' is empty"),
        ({"instruction": "Translate", "input": 3, "output": "x"}, "field 'input' must be a string"),
        ({"instruction": "Translate"}, "missing field 'output'"),
        ({"messages": []}, "non-empty list"),
        ({"messages": "hello"}, "non-empty list"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "has role 'robot'"),
        ({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}, "no text content"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "last message must be the assistant's"),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}, "no user message"),
        ({"messages": ["hi"]}, "message 0 is not an object"),
        ({"text": "a text row"}, "a text row in a dataset of instruction rows"),
        (b'{"prompt": "caf\xe9", "completion": "x"}', "not valid UTF-8"),
    ],
)
def test_malformed_jsonl_row_is_reported_by_number_and_good_rows_are_kept(tmp_path, bad_row, message_part):
    path = jsonl(tmp_path, GOOD, bad_row, {"prompt": "Name a colour", "completion": "red"})
    dataset = load_dataset(path)
    assert [r.row for r in dataset.rows] == [1, 3]
    assert list(errors_by_row(dataset)) == [2]
    assert message_part in dataset.errors[0].message
    assert dataset.stats.invalid_rows == 1 and dataset.stats.rows == 2


def test_row_over_the_length_limit_is_reported(tmp_path):
    path = jsonl(tmp_path, GOOD, {"prompt": "x" * 100_001, "completion": "y"})
    dataset = load_dataset(path)
    assert errors_by_row(dataset)[2].startswith("row has 100002 characters")
    assert len(dataset.rows) == 1


def test_alpaca_and_chat_rows_are_normalised(tmp_path):
    alpaca = jsonl(tmp_path, {"instruction": "Translate to French", "input": "cat", "output": "chat"},
                   {"instruction": "Say hi", "input": "", "output": "hi"}, name="alpaca.jsonl")
    rows = load_dataset(alpaca).rows
    assert (rows[0].prompt, rows[0].completion) == ("Translate to French\n\ncat", "chat")
    assert rows[1].prompt == "Say hi"

    conversation = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "4"}]
    chat = load_dataset(jsonl(tmp_path, {"messages": conversation}, name="chat.jsonl"))
    row = chat.rows[0]
    assert row.kind == "chat" and row.prompt == "2+2?" and row.completion == "4"
    assert [m.role for m in row.messages] == ["system", "user", "assistant"]
    assert chat.stats.field_lengths["messages"].max == 3
    assert json.loads(rows_to_jsonl(chat.rows)) == {"messages": conversation}


def test_duplicates_removed_blank_lines_skipped_and_stats(tmp_path):
    path = jsonl(tmp_path, GOOD, "", {"prompt": "What is 2 + 2? ", "completion": "4"},
                 {"prompt": "Longer question here", "completion": "ok"})
    dataset = load_dataset(path)
    stats = dataset.stats
    assert [r.row for r in dataset.rows] == [1, 4]
    assert (stats.rows_read, stats.rows, stats.duplicates_removed, stats.blank_lines_skipped) == (3, 2, 1, 1)
    assert stats.format == "jsonl" and stats.kind == "instruction"
    assert stats.field_lengths["prompt"].min == len("What is 2 + 2?")
    assert stats.field_lengths["prompt"].max == len("Longer question here")
    characters = len("What is 2 + 2?") + 1 + len("Longer question here") + 2
    assert stats.approx_tokens == -(-characters // 4)
    assert stats.size_bytes == path.stat().st_size


def test_txt_one_text_per_line(tmp_path):
    path = write_lines(tmp_path / "corpus.txt", ["The robot waves.", "", "It grasps the cup.", "The robot waves.",
                                                  b"bad \xff byte", "z" * 100_001])
    dataset = load_dataset(path)
    assert [r.completion for r in dataset.rows] == ["The robot waves.", "It grasps the cup."]
    assert all(r.kind == "text" and r.prompt == "" for r in dataset.rows)
    assert errors_by_row(dataset) == {5: "not valid UTF-8",
                                      6: "row has 100001 characters, more than the limit of 100000"}
    assert dataset.stats.duplicates_removed == 1 and dataset.stats.blank_lines_skipped == 1
    assert set(dataset.stats.field_lengths) == {"text"}


def test_csv_rows_numbered_by_file_line_and_malformed_ones_reported(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(
        "prompt,completion,source\n"
        '"Add 2 and 3","5",gen\n'                    # line 2: good
        '"A prompt\nover two lines","done",gen\n'   # lines 3-4: good, starts on line 3
        "only two,cells\n"                           # line 5: wrong width
        ",empty prompt,gen\n"                        # line 6
        "no completion,,gen\n"                       # line 7
        '"Name a colour","red",gen\n'                # line 8: good
    )
    dataset = load_dataset(path)
    assert [r.row for r in dataset.rows] == [2, 3, 8]
    assert dataset.rows[1].prompt == "A prompt\nover two lines"
    assert errors_by_row(dataset) == {
        5: "expected 3 columns like the header, got 2",
        6: "field 'prompt' is empty",
        7: "field 'completion' is empty",
    }


def test_csv_bad_quoting_is_a_row_error(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('prompt,completion\n"fine","yes"\n"broken"quote,"x"\n"also fine","yes"\n')
    dataset = load_dataset(path)
    assert [r.prompt for r in dataset.rows] == ["fine", "also fine"]
    assert dataset.errors[0].row == 3 and "malformed CSV" in dataset.errors[0].message


def test_csv_header_without_the_columns_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("question,answer\nq,a\n")
    with pytest.raises(DatasetInvalidError, match="'prompt' and 'completion'") as raised:
        load_dataset(path)
    assert raised.value.code == ErrorCode.DATASET_INVALID


def test_dataset_with_no_usable_rows_is_dataset_invalid(tmp_path):
    path = jsonl(tmp_path, "{oops", {"prompt": "", "completion": "x"})
    with pytest.raises(DatasetInvalidError, match="no usable rows.*row 1: not valid JSON") as raised:
        load_dataset(path)
    assert raised.value.code == ErrorCode.DATASET_INVALID == 2001


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(DatasetInvalidError, match="cannot tell the format"):
        load_dataset(tmp_path / "data.parquet")
    with pytest.raises(DatasetInvalidError, match="cannot read dataset"):
        load_dataset(tmp_path / "missing.jsonl")
    odd_name = jsonl(tmp_path, GOOD, name="data.log")
    assert len(load_dataset(odd_name, format="jsonl").rows) == 1


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert load_dataset(path).rows[0].prompt == GOOD["prompt"]


def test_split_is_seeded_reproducible_and_disjoint(tmp_path):
    path = jsonl(tmp_path, *[{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(50)])
    dataset = load_dataset(path)
    first = split(dataset, validation_fraction=0.2, seed=3)
    again = split(dataset, validation_fraction=0.2, seed=3)
    other = split(dataset, validation_fraction=0.2, seed=4)
    assert [r.row for r in first.validation] == [r.row for r in again.validation]
    assert [r.row for r in first.validation] != [r.row for r in other.validation]
    assert len(first.validation) == 10 and len(first.train) == 40
    assert {r.row for r in first.train} | {r.row for r in first.validation} == set(range(1, 51))
    assert not {r.row for r in first.train} & {r.row for r in first.validation}


def test_split_of_a_tiny_dataset_keeps_a_row_on_each_side(tmp_path):
    dataset = load_dataset(jsonl(tmp_path, GOOD, {"prompt": "b", "completion": "c"}))
    parts = split(dataset, validation_fraction=0.01, seed=0)
    assert len(parts.train) == 1 and len(parts.validation) == 1
    assert split(dataset, validation_fraction=0.0, seed=0).validation == []
    with pytest.raises(ValueError):
        split(dataset, validation_fraction=1.0, seed=0)


# -- Tables (pipelines and uploads) -----------------------------------------------------------------
QA = [{"question": "What is 2 + 2?", "answer": "4"}, {"question": "Name a colour", "answer": "red"},
      {"question": "Capital of France?", "answer": "Paris"}]


def write_table(directory: Path, format: str, rows: list[dict] = QA, name: str = "qa") -> Path:
    """``rows`` as a real file of ``format``."""
    path = directory / f"{name}.{format}"
    if format == "csv":
        out = io.StringIO()
        columns = list(rows[0])
        out.write(",".join(columns) + "\n")
        for row in rows:
            out.write(",".join(json.dumps(row[c]) if "," in str(row[c]) else str(row[c]) for c in columns) + "\n")
        path.write_text(out.getvalue())
    elif format == "json":
        path.write_text(json.dumps(rows, indent=2))
    elif format == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif format == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(f"{r['question']}\n" for r in rows))
    return path


@pytest.mark.parametrize("format", ["csv", "json", "jsonl", "parquet"])
def test_every_table_format_reads_the_same_rows(tmp_path: Path, format: str) -> None:
    table = read_records(write_table(tmp_path, format))
    assert table.format == format
    assert table.columns == ["question", "answer"]
    assert [r.values for r in table.records] == QA
    assert table.errors == [] and table.rows_read == 3


def test_txt_is_one_text_per_line(tmp_path: Path) -> None:
    table = read_records(write_table(tmp_path, "txt"))
    assert table.columns == ["text"]
    assert [r.values["text"] for r in table.records] == [q["question"] for q in QA]


def test_bad_table_rows_are_reported_by_number_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b'{"q": "a"}\n\n{oops\n[1, 2]\n{}\n{"q": "caf\xe9"}\n' + json.dumps({"q": "x" * 100_001}).encode()
                     + b'\n{"q": "b", "n": 2}\n')
    table = read_records(path)
    assert [(r.row, r.values) for r in table.records] == [(1, {"q": "a"}), (8, {"q": "b", "n": 2})]
    assert {e.row: e.message for e in table.errors} == {
        3: "not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        4: "expected a JSON object, got array", 5: "the row has no values", 6: "column 'q' is not valid UTF-8",
        7: "row has 100001 characters, more than the limit of 100000"}
    assert (table.rows_read, table.blank_rows, table.columns) == (7, 1, ["q", "n"])


def test_csv_table_rows_numbered_by_line_and_a_bad_header_refused(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer\n"two\nlines",yes\nonly one cell\n,\nq,a\n')
    table = read_records(path)
    assert [(r.row, r.values) for r in table.records] == [
        (2, {"question": "two\nlines", "answer": "yes"}), (6, {"question": "q", "answer": "a"})]
    assert [str(e) for e in table.errors] == ["row 4: expected 2 columns like the header, got 1"]
    path.write_text("question,,question\nq,a,b\n")
    with pytest.raises(DatasetInvalidError, match="column 2 has no name; column 'question' appears twice"):
        read_records(path)


def test_a_file_that_is_not_its_format_is_dataset_invalid(tmp_path: Path) -> None:
    fake = tmp_path / "data.parquet"
    fake.write_text("question,answer\nq,a\n")
    with pytest.raises(DatasetInvalidError, match="data.parquet is not a Parquet file") as caught:
        read_records(fake)
    assert caught.value.code is ErrorCode.DATASET_INVALID
    # The magic bytes but a broken body: pyarrow's reason is given.
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes(write_table(tmp_path, "parquet").read_bytes()[:12] + b"PAR1")
    with pytest.raises(DatasetInvalidError, match="cut.parquet is not a readable Parquet file"):
        read_records(truncated)
    jsonl_named_json = tmp_path / "lines.json"
    jsonl_named_json.write_text('{"q": "a"}\n{"q": "b"}\n')
    with pytest.raises(DatasetInvalidError, match="not valid JSON .Extra data.*use .jsonl"):
        read_records(jsonl_named_json)
    an_object = tmp_path / "object.json"
    an_object.write_text('{"data": []}')
    with pytest.raises(DatasetInvalidError, match="holds a JSON object; a JSON dataset is an array of objects"):
        read_records(an_object)


def test_a_table_with_no_usable_rows_is_dataset_invalid(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text('[{}, "text", {"a": null}]')
    with pytest.raises(DatasetInvalidError, match=r"no usable rows \(3 read\); problems: row 1: the row has no"):
        read_records(path)
    (tmp_path / "blank.csv").write_text("a,b\n\n")
    with pytest.raises(DatasetInvalidError, match=r"no usable rows \(0 read\)"):
        read_records(tmp_path / "blank.csv")


def test_parquet_cells_become_json_values(tmp_path: Path) -> None:
    import datetime
    table = pa.table({"text": ["a", "b"], "score": [1.5, float("nan")], "day": [datetime.date(2024, 5, 1), None],
                      "tags": [["x", "y"], []]})
    path = tmp_path / "cells.parquet"
    pq.write_table(table, path)
    assert [r.values for r in read_records(path).records] == [
        {"text": "a", "score": 1.5, "day": "2024-05-01", "tags": ["x", "y"]},
        {"text": "b", "score": None, "day": None, "tags": []}]


def test_format_from_declaration_suffix_or_content(tmp_path: Path) -> None:
    parquet = write_table(tmp_path, "parquet")
    assert table_format(tmp_path / "x.NDJSON") == "jsonl"
    assert table_format(tmp_path / "x.txt", declared="CSV") == "csv"
    no_suffix = tmp_path / "upload"
    for content, expected in ((parquet.read_bytes(), "parquet"), (b'\n [{"a": 1}]', "json"), (b'{"a": 1}\n', "jsonl")):
        no_suffix.write_bytes(content)
        assert table_format(no_suffix) == expected
    no_suffix.write_bytes(b"a,b\n")
    with pytest.raises(DatasetInvalidError, match="cannot tell the format of upload"):
        table_format(no_suffix)
    with pytest.raises(DatasetInvalidError, match="unknown dataset format 'xls'"):
        table_format(no_suffix, declared="xls")


def test_analysis_of_an_upload(tmp_path: Path) -> None:
    rows = [{"id": i, "label": "pos", "text": "x" * length} for i, length in enumerate([10, 20, 30, 40, 1000], 1)]
    path = write_table(tmp_path, "jsonl", rows)
    (tmp_path / "more.jsonl").write_text(path.read_text() + "{bad\n")
    analysis = analyse(tmp_path / "more.jsonl")
    assert analysis.to_dict() == {
        "format": "jsonl", "rows": 5, "columns": ["id", "label", "text"], "text_column": "text",
        "stats": {"min_length": 10, "avg_length": 220.0, "max_length": 1000, "p50_length": 30, "p95_length": 1000},
        "invalid_rows": 1, "errors": ["row 6: not valid JSON (Expecting property name enclosed in double quotes at "
                                      "column 2)"], "size_bytes": (tmp_path / "more.jsonl").stat().st_size}


def test_the_text_column_is_a_usual_name_else_the_longest_strings(tmp_path: Path) -> None:
    assert analyse(write_table(tmp_path, "csv")).text_column == "question"
    table = read_records(write_table(tmp_path, "jsonl", [{"n": 1, "short": "ab", "body": "a longer text"}]))
    assert detect_text_column(table.records, table.columns) == "body"
    numbers = read_records(write_table(tmp_path, "jsonl", [{"n": 1, "m": 2.5}], name="numbers"))
    assert detect_text_column(numbers.records, numbers.columns) is None
    assert analyse(numbers.path).stats == LengthStats(0, 0.0, 0, 0, 0)


def test_preview_limits(tmp_path: Path) -> None:
    path = write_table(tmp_path, "csv")
    assert preview(path, limit=2) == {"samples": QA[:2], "total_rows": 3}
    assert preview(path)["samples"] == QA
    for bad in (0, PREVIEW_MAX_LIMIT + 1, 10_000, "5", True):
        with pytest.raises(InvalidRequest) as caught:
            preview(path, limit=bad)
        assert caught.value.problems == [f"limit: {bad!r} is not an integer from 1 to {PREVIEW_MAX_LIMIT}"]
    assert len(preview(path, limit=PREVIEW_MAX_LIMIT)["samples"]) == 3


def test_size_guard_refuses_before_reading_and_leaves_nothing(tmp_path: Path) -> None:
    check_dataset_size(100, max_bytes=100)
    with pytest.raises(DatasetTooLarge, match="the dataset is 200.0 MB, more than the limit of 100.0 MB") as caught:
        check_dataset_size(200 * 1024 * 1024, max_bytes=100 * 1024 * 1024)
    assert caught.value.code is ErrorCode.DATASET_INVALID
    destination = tmp_path / "uploads" / "data.csv"
    assert save_dataset_stream(io.BytesIO(b"a,b\n1,2\n"), destination, max_bytes=100) == 8
    assert destination.read_bytes() == b"a,b\n1,2\n"
    with pytest.raises(DatasetTooLarge):
        save_dataset_stream(io.BytesIO(b"x" * 1000), tmp_path / "uploads" / "big.csv", max_bytes=999, chunk_bytes=64)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["data.csv"]
    big = write_table(tmp_path, "csv")
    with pytest.raises(DatasetTooLarge):
        read_records(big, max_bytes=10)


def test_dataset_paths_stay_inside_the_datasets_directory(tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    (root / "sub").mkdir(parents=True)
    inside = write_table(root / "sub", "csv")
    outside = write_table(tmp_path, "jsonl", name="secret")
    assert resolve_dataset_path(root, "sub/qa.csv") == inside.resolve()
    assert resolve_dataset_path(root, str(inside)) == inside.resolve()
    os.symlink(inside, root / "alias.csv")
    assert resolve_dataset_path(root, "alias.csv") == inside.resolve()
    os.symlink(outside, root / "escape.jsonl")
    for bad in ("../secret.jsonl", str(outside), "escape.jsonl", "sub/../../secret.jsonl"):
        with pytest.raises(InvalidRequest, match="outside the datasets directory"):
            resolve_dataset_path(root, bad)
    with pytest.raises(InvalidRequest, match="is a URL"):
        resolve_dataset_path(root, "s3://datasets/training_data.csv")
    with pytest.raises(InvalidRequest, match="not a file"):
        resolve_dataset_path(root, "sub")
    with pytest.raises(NotFound):
        resolve_dataset_path(root, "missing.csv")


def test_records_are_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "out" / "rows.jsonl"
    assert write_records_jsonl(path, [{"text": "a"}, {"text": "é"}]) == 2
    assert path.read_text(encoding="utf-8") == '{"text": "a"}\n{"text": "é"}\n'

    def broken() -> Iterator[dict[str, str]]:
        yield {"text": "b"}
        raise RuntimeError("the source failed")
    with pytest.raises(RuntimeError):
        write_records_jsonl(path, broken())
    assert path.read_text(encoding="utf-8") == '{"text": "a"}\n{"text": "é"}\n'
    assert sorted(p.name for p in path.parent.iterdir()) == ["rows.jsonl"]
