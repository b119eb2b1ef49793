"""The data agents on real files in every format: DatasetAgent (and its path checks), ValidationAgent,
PreprocessingAgent (cleaning, dedup, the alpaca and chatml templates) with the experts' loader reading
what it writes."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from embodied_ai.errors import ErrorCode, InvalidRequest, NotFound
from embodied_ai.experts.datasets import DatasetInvalidError, load_dataset
from embodied_ai.jobs import JobContext, JobStore
from embodied_ai.pipelines import (
    AgentContext,
    DatasetAgent,
    DatasetAgentConfig,
    PipelineServices,
    PreprocessingAgent,
    PreprocessingAgentConfig,
    ValidationAgent,
    ValidationAgentConfig,
)
from embodied_ai.pipelines.templates import ALPACA_WITHOUT_INPUT
from tests.unit.pipelines.conftest import write_dataset

MakeContext = Callable[..., AgentContext]


def read_dataset(ctx: MakeContext, **config: Any) -> dict[str, Any]:
    return DatasetAgent(DatasetAgentConfig(**config)).run(ctx("dataset", "DatasetAgent"), {})


def preprocess(ctx: MakeContext, dataset: dict[str, Any], **config: Any) -> dict[str, Any]:
    agent = PreprocessingAgent(PreprocessingAgentConfig(**config))
    return agent.run(ctx("prep", "PreprocessingAgent"), {"dataset": dataset})


def jsonl_rows(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


# -- DatasetAgent ---------------------------------------------------------------------------------
@pytest.mark.parametrize("format", ["csv", "json", "jsonl", "parquet"])
def test_dataset_agent_reads_every_format(format: str, services: PipelineServices, agent_ctx: MakeContext,
                                          store: JobStore, job_ctx: JobContext) -> None:
    path = write_dataset(services.datasets_dir, format)
    outputs = read_dataset(agent_ctx, file_path=path.name)
    assert outputs["dataset"] == {"path": str(path.resolve()), "format": format, "rows": 5,
                                  "columns": ["question", "answer", "topic"], "text_column": "question",
                                  "dataset_id": None}
    assert outputs["analysis"]["rows"] == 5 and outputs["analysis"]["stats"]["max_length"] == 18
    lines = [(line.level.value, line.agent, line.message) for line in store.logs(job_ctx.job.id)]
    assert lines == [("INFO", "dataset", f"Starting dataset ingestion: {path.name}"),
                     ("INFO", "dataset", "Dataset loaded: 5 rows")]


def test_dataset_agent_reads_txt_and_a_declared_format(services: PipelineServices, agent_ctx: MakeContext) -> None:
    path = write_dataset(services.datasets_dir, "txt")
    outputs = read_dataset(agent_ctx, file_path="qa.txt")
    assert (outputs["dataset"]["columns"], outputs["dataset"]["rows"]) == (["text"], 5)
    renamed = path.rename(services.datasets_dir / "qa.data")
    assert read_dataset(agent_ctx, file_path=renamed.name, format="txt")["dataset"]["format"] == "txt"


def test_dataset_agent_finds_a_registered_dataset(services: PipelineServices, agent_ctx: MakeContext,
                                                  tmp_path: Path) -> None:
    stored = write_dataset(tmp_path / "uploads" / "ds_1", "jsonl")

    def resolve(dataset_id: str) -> Path:
        if dataset_id != "ds_1":
            raise NotFound(f"dataset {dataset_id} does not exist")
        return stored
    registry = dataclasses.replace(services, resolve_dataset=resolve)
    outputs = DatasetAgent(DatasetAgentConfig(dataset_id="ds_1")).run(agent_ctx(on=registry), {})
    assert (outputs["dataset"]["dataset_id"], outputs["dataset"]["rows"]) == ("ds_1", 5)
    with pytest.raises(NotFound):
        DatasetAgent(DatasetAgentConfig(dataset_id="ds_2")).run(agent_ctx(on=registry), {})
    with pytest.raises(InvalidRequest, match="not registered"):
        DatasetAgent(DatasetAgentConfig(dataset_id="ds_1")).run(agent_ctx(), {})
    assert DatasetAgent.check(DatasetAgentConfig(dataset_id="ds_2"), registry) == ["dataset ds_2 does not exist"]
    assert DatasetAgent.check(DatasetAgentConfig(dataset_id="ds_1"), services) == [
        "config.dataset_id: this runtime has no dataset registry; give file_path instead"]


def test_dataset_agent_refuses_paths_outside_the_datasets_directory(services: PipelineServices,
                                                                    agent_ctx: MakeContext, tmp_path: Path) -> None:
    secret = write_dataset(tmp_path / "private", "csv")
    os.symlink(secret, services.datasets_dir / "link.csv")
    for path in ("../private/qa.csv", str(secret), "link.csv"):
        with pytest.raises(InvalidRequest, match="outside the datasets directory") as caught:
            read_dataset(agent_ctx, file_path=path)
        assert caught.value.code is ErrorCode.BAD_REQUEST
        assert DatasetAgent.check(DatasetAgentConfig(file_path=path), services) == [
            f"config.file_path: {path!r} leads outside the datasets directory; only files inside it are read"]
    assert DatasetAgent.check(DatasetAgentConfig(file_path="nope.csv"), services) == [
        "dataset file 'nope.csv' does not exist in the datasets directory"]


def test_dataset_agent_refuses_a_fake_parquet_and_a_file_with_no_rows(services: PipelineServices,
                                                                      agent_ctx: MakeContext) -> None:
    (services.datasets_dir / "fake.parquet").write_text("question,answer\nq,a\n")
    with pytest.raises(DatasetInvalidError, match="fake.parquet is not a Parquet file") as caught:
        read_dataset(agent_ctx, file_path="fake.parquet")
    assert caught.value.code is ErrorCode.DATASET_INVALID
    (services.datasets_dir / "empty.jsonl").write_text("\n{}\n")
    with pytest.raises(DatasetInvalidError, match=r"no usable rows \(1 read\)"):
        read_dataset(agent_ctx, file_path="empty.jsonl")
    write_dataset(services.datasets_dir, "csv")
    with pytest.raises(DatasetInvalidError, match="text_column 'body' is not a column of qa.csv"):
        read_dataset(agent_ctx, file_path="qa.csv", text_column="body")


def test_dataset_agent_config_needs_exactly_one_source() -> None:
    for config in ({}, {"dataset_id": "ds_1", "file_path": "qa.csv"}):
        with pytest.raises(ValidationError, match="give either dataset_id or file_path"):
            DatasetAgentConfig(**config)
    with pytest.raises(ValidationError, match="s3:// URLs are not read"):
        DatasetAgentConfig(file_path="s3://datasets/training_data.csv")
    with pytest.raises(ValidationError, match="format"):
        DatasetAgentConfig(file_path="qa.csv", format="xls")


# -- ValidationAgent ------------------------------------------------------------------------------
def validate(ctx: MakeContext, dataset: dict[str, Any], **config: Any) -> dict[str, Any]:
    return ValidationAgent(ValidationAgentConfig(**config)).run(ctx("check", "ValidationAgent"), {"d": dataset})


def test_validation_agent_reports_each_bad_row_and_drops_it(services: PipelineServices,
                                                            agent_ctx: MakeContext) -> None:
    write_dataset(services.datasets_dir, "jsonl")
    dataset = read_dataset(agent_ctx, file_path="qa.jsonl")
    outputs = validate(agent_ctx, dataset, required_columns=["question", "answer"], max_length=17)
    assert outputs["errors"] == [
        "row 2: column 'question' has 18 characters, more than max_length 17",
        "row 4: column 'answer' is empty; column 'question' has 18 characters, more than max_length 17"]
    assert (outputs["valid_rows"], outputs["invalid_rows"]) == (3, 2)
    kept = outputs["dataset"]
    assert (kept["format"], kept["rows"], Path(kept["path"]).name) == ("jsonl", 3, "check.jsonl")
    assert [row["answer"] for row in jsonl_rows(kept["path"])] == ["4", "4", "chat"]


def test_validation_agent_passes_a_good_dataset_through(services: PipelineServices, agent_ctx: MakeContext) -> None:
    write_dataset(services.datasets_dir, "csv")
    dataset = read_dataset(agent_ctx, file_path="qa.csv")
    outputs = validate(agent_ctx, dataset, required_columns=["question"], min_rows=5)
    assert outputs["dataset"] == dataset["dataset"] and outputs["errors"] == []


def test_validation_agent_failures(services: PipelineServices, agent_ctx: MakeContext) -> None:
    write_dataset(services.datasets_dir, "parquet")
    dataset = read_dataset(agent_ctx, file_path="qa.parquet")
    with pytest.raises(DatasetInvalidError, match="lacks the required column.s. 'label'"):
        validate(agent_ctx, dataset, required_columns=["label", "question"])
    with pytest.raises(DatasetInvalidError, match="1 invalid rows: row 4: column 'answer' is empty"):
        validate(agent_ctx, dataset, required_columns=["answer"], drop_invalid=False)
    with pytest.raises(DatasetInvalidError, match="4 valid rows, fewer than min_rows 5"):
        validate(agent_ctx, dataset, required_columns=["answer"], min_rows=5)
    with pytest.raises(InvalidRequest, match="no dataset to read"):
        ValidationAgent(ValidationAgentConfig()).run(agent_ctx(), {"train": {"model": "m"}})
    with pytest.raises(ValidationError):
        ValidationAgentConfig(min_rows=0)


# -- PreprocessingAgent ---------------------------------------------------------------------------
@pytest.mark.parametrize("format", ["csv", "json", "jsonl", "parquet"])
def test_alpaca_template_cleans_dedups_and_drops_empty_rows(format: str, services: PipelineServices,
                                                            agent_ctx: MakeContext) -> None:
    write_dataset(services.datasets_dir, format)
    dataset = read_dataset(agent_ctx, file_path=f"qa.{format}")
    outputs = preprocess(agent_ctx, dataset, base_model="smollm2", template="alpaca",
                         template_mapping={"instruction": "question", "output": "answer"})
    rows = jsonl_rows(outputs["dataset"]["path"])
    assert [(r["prompt"], r["completion"]) for r in rows] == [
        (ALPACA_WITHOUT_INPUT.format(instruction=q), a)
        for q, a in (("What is 2 + 2?", "4"), ("Name a colour", "red"), ("Translate 'cat'", "chat"))]
    assert rows[0]["text"] == rows[0]["prompt"] + "4"
    assert outputs["stats"] | {"field_lengths": None} == {
        "input_rows": 5, "output_rows": 3, "empty_dropped": 1, "duplicates_removed": 1,
        "approx_tokens": outputs["stats"]["approx_tokens"], "field_lengths": None}
    assert outputs["dataset"]["columns"] == ["prompt", "completion", "text"]
    assert (outputs["template"], outputs["base_model"]) == ("alpaca", "smollm2")
    # What training reads: the experts' loader takes every row as an instruction example.
    trainable = load_dataset(outputs["dataset"]["path"])
    assert (trainable.stats.kind, trainable.stats.rows, trainable.errors) == ("instruction", 3, [])


def test_alpaca_with_an_input_column_and_chatml_with_a_system_prompt(services: PipelineServices,
                                                                     agent_ctx: MakeContext) -> None:
    rows = [{"instruction": "Translate", "input": "cat", "output": "chat", "persona": "You translate."}]
    write_dataset(services.datasets_dir, "jsonl", rows)
    dataset = read_dataset(agent_ctx, file_path="qa.jsonl")
    alpaca = jsonl_rows(preprocess(agent_ctx, dataset, template="alpaca")["dataset"]["path"])
    assert "### Instruction:\nTranslate\n\n### Input:\ncat\n\n### Response:\n" in alpaca[0]["prompt"]

    chatml = preprocess(agent_ctx, dataset, template="chatml", template_mapping={"system": "persona"})
    [row] = jsonl_rows(chatml["dataset"]["path"])
    assert row["messages"] == [{"role": "system", "content": "You translate."},
                               {"role": "user", "content": "Translate\n\ncat"},
                               {"role": "assistant", "content": "chat"}]
    assert row["text"] == ("<|im_start|>system\nYou translate.<|im_end|>\n<|im_start|>user\nTranslate\n\ncat"
                           "<|im_end|>\n<|im_start|>assistant\nchat<|im_end|>")
    assert load_dataset(chatml["dataset"]["path"]).stats.kind == "chat"
    default_system = preprocess(agent_ctx, dataset, template="chatml", system_prompt="Be brief.")
    assert jsonl_rows(default_system["dataset"]["path"])[0]["messages"][0] == {"role": "system",
                                                                                "content": "Be brief."}


def test_without_a_template_the_text_column_is_kept(services: PipelineServices, agent_ctx: MakeContext) -> None:
    write_dataset(services.datasets_dir, "txt")
    dataset = read_dataset(agent_ctx, file_path="qa.txt")
    outputs = preprocess(agent_ctx, dataset)
    assert jsonl_rows(outputs["dataset"]["path"]) == [
        {"text": "What is 2 + 2?"}, {"text": "Name a colour"}, {"text": "Capital of France?"},
        {"text": "Translate 'cat'"}]
    kept = preprocess(agent_ctx, dataset, clean=False, dedup=False)
    assert kept["stats"]["output_rows"] == 5


def test_preprocessing_refusals(services: PipelineServices, agent_ctx: MakeContext) -> None:
    write_dataset(services.datasets_dir, "csv")
    dataset = read_dataset(agent_ctx, file_path="qa.csv")
    with pytest.raises(DatasetInvalidError, match=r"map to columns the dataset lacks: instruction -> 'instruction', "
                                                  r"output -> 'output' \(columns: question, answer, topic\)"):
        preprocess(agent_ctx, dataset, template="alpaca")
    with pytest.raises(DatasetInvalidError, match="input -> 'context'"):
        preprocess(agent_ctx, dataset, template="alpaca",
                   template_mapping={"instruction": "question", "output": "answer", "input": "context"})
    # Row 6: the CSV line the record starts on (an earlier answer spans two lines).
    with pytest.raises(DatasetInvalidError, match="1 rows are empty: row 6: empty 'answer'"):
        preprocess(agent_ctx, dataset, template="chatml", drop_empty=False,
                   template_mapping={"instruction": "question", "output": "answer"})
    with pytest.raises(DatasetInvalidError, match="text_column 'body' is not a column"):
        preprocess(agent_ctx, dataset, text_column="body")

    (services.datasets_dir / "blank.jsonl").write_text('{"question": "q", "answer": " \\u0007 "}\n')
    blank = read_dataset(agent_ctx, file_path="blank.jsonl")
    with pytest.raises(DatasetInvalidError, match=r"no usable rows after preprocessing \(1 read, 1 empty"):
        preprocess(agent_ctx, blank, template="alpaca", template_mapping={"instruction": "question",
                                                                          "output": "answer"})
    assert not (services.work_dir(1) / "prep.jsonl").exists()


def test_preprocessing_config_checks_the_mapping_against_the_template() -> None:
    with pytest.raises(ValidationError, match="template_mapping needs a template"):
        PreprocessingAgentConfig(template_mapping={"instruction": "q"})
    with pytest.raises(ValidationError, match="'system' is not a field of the alpaca template"):
        PreprocessingAgentConfig(template="alpaca", template_mapping={"system": "s"})
    with pytest.raises(ValidationError, match="template"):
        PreprocessingAgentConfig(template="llama")
