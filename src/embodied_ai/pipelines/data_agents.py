"""The data agents of a pipeline: DatasetAgent reads a table, ValidationAgent checks it, PreprocessingAgent
cleans it, removes duplicates and renders a prompt template into the JSONL a TrainingAgent trains on.

Tables are read with `embodied_ai.experts.datasets.read_records` (CSV, JSON, JSONL, Parquet, TXT): a bad
row is reported by its number and skipped, a table with no usable row is DATASET_INVALID.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from embodied_ai.errors import EmbodiedError
from embodied_ai.experts.datasets import (
    DatasetInvalidError,
    RecordSet,
    RowError,
    TableFormat,
    analyse_records,
    load_dataset,
    read_records,
    resolve_dataset_path,
    write_records_jsonl,
)
from embodied_ai.jobs import LogLevel
from embodied_ai.pipelines.agents import Agent, AgentConfig, AgentContext, DatasetRef, Inputs, upstream_dataset
from embodied_ai.pipelines.services import PipelineServices
from embodied_ai.pipelines.templates import (
    REQUIRED_FIELDS,
    TEMPLATE_FIELDS,
    TemplateName,
    as_text,
    clean_text,
    render,
)

# How many row errors an agent's outputs and log lines name (all are counted).
SHOWN_ERRORS = 20


def _summary(errors: list[RowError], shown: int = 3) -> str:
    text = "; ".join(str(e) for e in errors[:shown])
    return text + (f" (and {len(errors) - shown} more)" if len(errors) > shown else "")


def _read(ref: DatasetRef, services: PipelineServices) -> RecordSet:
    return read_records(ref.path, ref.format, max_bytes=services.max_dataset_bytes)


# -- DatasetAgent ---------------------------------------------------------------------------------
class DatasetAgentConfig(AgentConfig):
    dataset_id: str | None = Field(default=None, min_length=1, description="an uploaded dataset's id")
    file_path: str | None = Field(default=None, min_length=1,
                                  description="a file in the datasets directory, relative to it or absolute")
    format: TableFormat | None = Field(default=None,
                                       description="csv, json, jsonl, parquet or txt; default: from the file")
    text_column: str | None = Field(default=None, min_length=1,
                                    description="the column holding the text; default: guessed")

    @field_validator("file_path")
    @classmethod
    def _not_a_url(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            raise ValueError(f"{value.split('://', 1)[0]}:// URLs are not read; upload the file or put it in the "
                             "datasets directory")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DatasetAgentConfig:
        if (self.dataset_id is None) == (self.file_path is None):
            raise ValueError("give either dataset_id or file_path (exactly one)")
        return self


class DatasetAgent(Agent):
    """Reads a registered dataset (``dataset_id``) or a file in the datasets directory (``file_path``)."""

    config_model: ClassVar[type[AgentConfig]] = DatasetAgentConfig
    needs_input: ClassVar[bool] = False
    config: DatasetAgentConfig

    @classmethod
    def check(cls, config: AgentConfig, services: PipelineServices) -> list[str]:
        assert isinstance(config, DatasetAgentConfig)
        try:
            if config.file_path is not None:
                resolve_dataset_path(services.datasets_dir, config.file_path)
            elif config.dataset_id is not None:
                services.dataset_path(config.dataset_id)
        except EmbodiedError as error:
            problems = getattr(error, "problems", None) or [error.message]
            return [f"config.{p}" if p.startswith(("file_path:", "dataset_id:")) else p for p in problems]
        return []

    def run(self, ctx: AgentContext, inputs: Inputs) -> dict[str, Any]:
        config, services = self.config, ctx.services
        if config.file_path is not None:
            path = resolve_dataset_path(services.datasets_dir, config.file_path)
        else:
            path = services.dataset_path(str(config.dataset_id))
        ctx.log(LogLevel.INFO, f"Starting dataset ingestion: {config.dataset_id or config.file_path}")
        table = read_records(path, config.format, max_bytes=services.max_dataset_bytes)
        analysis = analyse_records(table)
        text_column = analysis.text_column
        if config.text_column is not None:
            if config.text_column not in table.columns:
                raise DatasetInvalidError(f"text_column {config.text_column!r} is not a column of {path.name} "
                                          f"(columns: {', '.join(table.columns)})")
            text_column = config.text_column
        if table.errors:
            ctx.log(LogLevel.WARN, f"{len(table.errors)} rows skipped: {_summary(table.errors)}")
        ctx.log(LogLevel.INFO, f"Dataset loaded: {analysis.rows} rows", values={"rows": analysis.rows})
        ref = DatasetRef(path=str(path), format=table.format, rows=analysis.rows, columns=table.columns,
                         text_column=text_column, dataset_id=config.dataset_id)
        return {"dataset": ref.to_dict(), "analysis": analysis.to_dict()}


# -- ValidationAgent ------------------------------------------------------------------------------
class ValidationAgentConfig(AgentConfig):
    required_columns: list[str] = Field(default_factory=list,
                                        description="columns every row must have, not empty")
    min_rows: int = Field(default=1, ge=1, description="the fewest valid rows the dataset may have")
    max_length: int | None = Field(default=None, ge=1, description="the most characters a text value may have")
    drop_invalid: bool = Field(default=True, description="drop invalid rows (true) or fail if any is invalid (false)")


class ValidationAgent(Agent):
    """Checks the upstream dataset: required columns, row count, text length; reports each bad row."""

    config_model: ClassVar[type[AgentConfig]] = ValidationAgentConfig
    config: ValidationAgentConfig

    def run(self, ctx: AgentContext, inputs: Inputs) -> dict[str, Any]:
        config = self.config
        ref = upstream_dataset(inputs, ctx.agent_name)
        table = _read(ref, ctx.services)
        missing = [c for c in config.required_columns if c not in table.columns]
        if missing:
            raise DatasetInvalidError(f"the dataset lacks the required column(s) {', '.join(map(repr, missing))} "
                                      f"(columns: {', '.join(table.columns)})")
        errors: list[RowError] = list(table.errors)     # rows the reader already refused
        kept = []
        for record in table.records:
            problems = self._problems(record.values)
            if problems:
                errors.append(RowError(record.row, "; ".join(problems)))
            else:
                kept.append(record)
        errors.sort(key=lambda e: e.row)
        if errors and not config.drop_invalid:
            raise DatasetInvalidError(f"{len(errors)} invalid rows: {_summary(errors, 5)}")
        if errors:
            ctx.log(LogLevel.WARN, f"{len(errors)} invalid rows dropped: {_summary(errors)}",
                    values={"invalid_rows": len(errors)})
        if len(kept) < config.min_rows:
            raise DatasetInvalidError(f"the dataset has {len(kept)} valid rows, fewer than min_rows "
                                      f"{config.min_rows}" + (f"; {_summary(errors)}" if errors else ""))
        if len(kept) < len(table.records):
            out = ctx.output_path(".jsonl")
            write_records_jsonl(out, (r.values for r in kept))
            ref = DatasetRef(path=str(out), format="jsonl", rows=len(kept), columns=table.columns,
                             text_column=ref.text_column, dataset_id=ref.dataset_id)
        ctx.log(LogLevel.INFO, f"Validation passed: {len(kept)} valid rows")
        return {"dataset": ref.to_dict(), "valid_rows": len(kept), "invalid_rows": len(errors),
                "errors": [str(e) for e in errors[:SHOWN_ERRORS]]}

    def _problems(self, values: dict[str, Any]) -> list[str]:
        problems = []
        for column in self.config.required_columns:
            value = values.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(f"column {column!r} is {'missing' if column not in values else 'empty'}")
        limit = self.config.max_length
        if limit is not None:
            problems += [f"column {column!r} has {len(value)} characters, more than max_length {limit}"
                         for column, value in values.items() if isinstance(value, str) and len(value) > limit]
        return problems


# -- PreprocessingAgent ---------------------------------------------------------------------------
class PreprocessingAgentConfig(AgentConfig):
    base_model: str | None = Field(default=None, description="the model the data is prepared for (recorded)")
    clean: bool = Field(default=True, description="normalise whitespace and remove control characters")
    dedup: bool = Field(default=True, description="drop rows that repeat an earlier one after cleaning")
    drop_empty: bool = Field(default=True, description="drop rows with an empty text (true) or fail on them (false)")
    template: TemplateName | None = Field(default=None, description="alpaca or chatml; none: the text column as it is")
    template_mapping: dict[str, str] = Field(
        default_factory=dict, description="template field (instruction, input, output, system) -> dataset column")
    system_prompt: str = Field(default="", description="chatml's system turn, unless a column is mapped to 'system'")
    text_column: str | None = Field(default=None, min_length=1, description="without a template: the column to keep")

    @model_validator(mode="after")
    def _mapping_fits_the_template(self) -> PreprocessingAgentConfig:
        if self.template is None:
            if self.template_mapping:
                raise ValueError("template_mapping needs a template (alpaca or chatml)")
            return self
        fields = TEMPLATE_FIELDS[self.template]
        unknown = sorted(set(self.template_mapping) - set(fields))
        if unknown:
            raise ValueError(f"template_mapping: {', '.join(map(repr, unknown))} is not a field of the "
                             f"{self.template} template (fields: {', '.join(fields)})")
        return self


class PreprocessingAgent(Agent):
    """Cleans, removes empty and duplicate rows, renders the template; writes the result as JSONL in the job's
    work directory, in the rows the experts' training loader reads."""

    config_model: ClassVar[type[AgentConfig]] = PreprocessingAgentConfig
    config: PreprocessingAgentConfig

    def run(self, ctx: AgentContext, inputs: Inputs) -> dict[str, Any]:
        config = self.config
        ref = upstream_dataset(inputs, ctx.agent_name)
        table = _read(ref, ctx.services)
        mapping, required = self._columns(table.columns, ref)
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        empty: list[RowError] = []
        duplicates = 0
        for record in table.records:
            fields = {name: as_text(record.values.get(column)) for name, column in mapping.items()}
            if config.clean:
                fields = {name: clean_text(text) for name, text in fields.items()}
            blank = [name for name in required if not fields[name].strip()]
            if blank:
                empty.append(RowError(record.row, f"empty {', '.join(repr(mapping[n]) for n in blank)}"))
                continue
            row = render(config.template, fields, config.system_prompt) if config.template else \
                {"text": fields["text"]}
            if config.dedup:
                key = json.dumps(row, sort_keys=True, ensure_ascii=False)
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
            rows.append(row)
        if empty and not config.drop_empty:
            raise DatasetInvalidError(f"{len(empty)} rows are empty: {_summary(empty, 5)}")
        if not rows:
            raise DatasetInvalidError(f"no usable rows after preprocessing ({len(table.records)} read, {len(empty)} "
                                      f"empty, {duplicates} duplicates)")
        out = ctx.output_path(".jsonl")
        write_records_jsonl(out, rows)
        try:
            # What the TrainingAgent will read: the experts' own loader, so the two cannot disagree.
            trainable = load_dataset(out, "jsonl")
        except DatasetInvalidError:
            out.unlink(missing_ok=True)
            raise
        if trainable.errors:
            ctx.log(LogLevel.WARN, f"{len(trainable.errors)} rows the training loader refuses: "
                                   f"{_summary(trainable.errors)}")
        stats = {
            "input_rows": len(table.records), "output_rows": len(rows), "empty_dropped": len(empty),
            "duplicates_removed": duplicates, "approx_tokens": trainable.stats.approx_tokens,
            "field_lengths": {k: vars(v) for k, v in trainable.stats.field_lengths.items()},
        }
        ctx.log(LogLevel.INFO, f"Preprocessed {len(table.records)} rows into {len(rows)} "
                               f"({len(empty)} empty, {duplicates} duplicates dropped)", values=stats)
        columns = list(rows[0])
        result = DatasetRef(path=str(out), format="jsonl", rows=len(rows), columns=columns, text_column="text",
                            dataset_id=ref.dataset_id)
        return {"dataset": result.to_dict(), "stats": stats, "template": config.template,
                "base_model": config.base_model}

    def _columns(self, columns: list[str], ref: DatasetRef) -> tuple[dict[str, str], tuple[str, ...]]:
        """Template field -> dataset column, and the fields a row needs; DatasetInvalidError for a column the
        dataset lacks."""
        config = self.config
        if config.template is None:
            column = config.text_column or ref.text_column
            if column is None or column not in columns:
                what = f"text_column {column!r} is not a column" if column else "no column holds text"
                raise DatasetInvalidError(f"{what} of the dataset (columns: {', '.join(columns)}); set text_column "
                                          "or a template")
            return {"text": column}, ("text",)
        mapping: dict[str, str] = {}
        missing = []
        for name in TEMPLATE_FIELDS[config.template]:
            column = config.template_mapping.get(name, name)
            if column in columns:
                mapping[name] = column
            elif name in config.template_mapping or name in REQUIRED_FIELDS:
                missing.append(f"{name} -> {column!r}")
        if missing:
            raise DatasetInvalidError(f"the {config.template} template's fields map to columns the dataset lacks: "
                                      f"{', '.join(missing)} (columns: {', '.join(columns)}); set template_mapping")
        return mapping, REQUIRED_FIELDS
