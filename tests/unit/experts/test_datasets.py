"""Dataset loading for expert training: each malformed-row case is reported by row number and
the good rows are kept; dedup, stats and a reproducible split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied_ai.errors import ErrorCode
from embodied_ai.experts.datasets import (
    DatasetInvalidError,
    load_dataset,
    rows_to_jsonl,
    split,
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
