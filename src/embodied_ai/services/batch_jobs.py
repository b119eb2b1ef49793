"""Seed 002's ``batch_processing`` jobs: one service's operation over many items, one result line each.

    service   operation            items                                                  result line
    nlp       analyze, summarize   a dataset's text column, or a folder's .txt files      the analysis / summary
    vision    analyze, classify    a folder's .png / .jpg files                           predictions / text, scene
    llm       generate             prompts, a dataset's prompt column, a folder's .txt    the experts' completion

A folder (``input_source``, seed 002's name) is relative to the datasets directory; nothing outside it is read.
Vision's ``analyze`` does ``text_extraction`` and ``scene_analysis`` only: ``object_detection`` needs the
perception node's detector (POST /v1/ai/vision/analyze). Results are appended to
``<work>/job-<id>/results.jsonl`` as they come, so a job whose process was killed resumes after the last
complete line (as ``batch_inference``). An item that fails gets its error on its line and the batch goes on.
Every problem with a request (unknown service or operation, parameters out of range, a missing dataset, a
folder outside the datasets directory or without files) is refused at submit, all listed at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest, validation_problems
from embodied_ai.experts.batch_jobs import INLINE_RESULTS, PROMPT_COLUMNS, Generate
from embodied_ai.experts.batch_jobs import _complete_lines as complete_lines
from embodied_ai.jobs.models import LogLevel
from embodied_ai.jobs.runner import JobContext, JobKind
from embodied_ai.services import batch_operations as operations
from embodied_ai.services.batch_inputs import (
    IMAGE_SUFFIXES,
    MAX_ITEMS,
    TEXT_SUFFIXES,
    DatasetFile,
    Item,
    dataset_items,
    folder_items,
    prompt_items,
)

BATCH_PROCESSING_JOB = "batch_processing"
OUTPUT_FILE = "results.jsonl"
# Each service's operations, its default ('' asks for) first.
OPERATIONS = {"nlp": ("analyze", "summarize"), "vision": ("analyze", "classify"), "llm": ("generate",)}
VISION_ANALYSES = ("text_extraction", "scene_analysis")
TEXT_COLUMNS = ("text", "content", "body", "document")
DEFAULT_MODELS = ("", "default")
CLASSIFIER_MODEL = "efficientnet_lite0"
# The parameters each service reads; any other is refused (a typo must not be ignored silently).
SERVICE_PARAMETERS = {
    "nlp": {"analysis_types", "language", "max_keywords", "max_length", "min_length", "text_column"},
    "vision": {"analysis_types", "top_k", "min_confidence"},
    "llm": {"prompts", "text_column", "system", "max_tokens", "temperature"},
}
COMMON_PARAMETERS = {"service", "operation", "name", "dataset_id", "input_source", "model", "output_format"}


class BatchProcessingConfig(BaseModel):
    """A job's request: seed 002's ``{name, service, parameters}`` as POST /v1/jobs stores it (the parameters
    beside ``name`` and ``service``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Literal["nlp", "vision", "llm"]
    operation: str = Field(default="", max_length=32, description="'' = the service's first operation")
    name: str = Field(default="", max_length=200)
    dataset_id: int | None = Field(default=None, ge=1, description="an uploaded dataset's text column")
    input_source: str | None = Field(default=None, max_length=1024,
                                     description="a folder inside the datasets directory")
    prompts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)
    text_column: str | None = Field(default=None, min_length=1, max_length=200)
    model: str = Field(default="", max_length=128, description="llm: the expert ('' = routed); else 'default'")
    output_format: Literal["json", "jsonl"] = "json"
    analysis_types: list[str] | None = Field(default=None, min_length=1, max_length=8, validation_alias=AliasChoices(
        "analysis_types", "analysis_type"))
    language: str | None = Field(default=None, max_length=16)
    max_keywords: int | None = None
    max_length: int | None = None
    min_length: int | None = None
    top_k: int = Field(default=5, ge=1)
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    system: str = Field(default="", max_length=4000)
    max_tokens: int = Field(default=0, ge=0, le=4096, description="0 = the expert's default")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)

    @field_validator("analysis_types", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value   # seed 002 sends one name as a string

    @property
    def action(self) -> str:
        return self.operation or OPERATIONS[self.service][0]

    def summary_lengths(self) -> tuple[int, int]:
        """``max_length`` and ``min_length`` in words, the summariser's defaults for those not given (the
        default minimum no more than a given maximum)."""
        from embodied_ai.nlp.summary import DEFAULT_MAX_LENGTH, DEFAULT_MIN_LENGTH

        longest = DEFAULT_MAX_LENGTH if self.max_length is None else self.max_length
        return longest, (min(DEFAULT_MIN_LENGTH, longest) if self.min_length is None else self.min_length)

    @classmethod
    def parse(cls, config: dict[str, Any]) -> BatchProcessingConfig:
        try:
            return cls.model_validate(config)
        except ValidationError as exc:
            raise InvalidRequest("invalid batch processing job", validation_problems(exc, "config")) from None


class BatchProcessing:
    def __init__(self, work_root: Path, datasets_dir: Path, dataset_file: DatasetFile, generate: Generate) -> None:
        """``dataset_file(id)``: an uploaded dataset's file and its text column (NotFound for an unknown id);
        ``generate``: one generation by the experts (as batch inference's)."""
        self._work_root, self._datasets_dir = work_root, datasets_dir
        self._dataset_file, self._generate = dataset_file, generate

    def kind(self) -> JobKind:
        return JobKind(run=self.run, resumable=True, validate=self.validate)

    def validate(self, config: dict[str, Any]) -> None:
        self._checked(config)

    def _checked(self, raw: dict[str, Any]) -> tuple[BatchProcessingConfig, list[Item]]:
        """The parsed request and its items; InvalidRequest listing every problem."""
        config = BatchProcessingConfig.parse(raw)
        problems = _parameter_problems(config, set(raw))
        items, input_problems = self._items(config)
        problems += input_problems
        if problems:
            raise InvalidRequest(f"invalid {config.service} batch processing job", problems)
        return config, items

    def _items(self, config: BatchProcessingConfig) -> tuple[list[Item], list[str]]:
        sources = [name for name in ("dataset_id", "input_source", "prompts") if getattr(config, name) is not None]
        allowed = {"nlp": ("dataset_id", "input_source"), "vision": ("input_source",),
                   "llm": ("prompts", "dataset_id", "input_source")}[config.service]
        if len(sources) != 1 or sources[0] not in allowed:
            return [], [f"input: give one of {' / '.join(allowed)} for the {config.service} service"
                        + (f" (got {', '.join(sources)})" if sources else "")]
        if config.prompts is not None:
            if any(not prompt.strip() for prompt in config.prompts):
                return [], ["prompts: every prompt must have text"]
            return prompt_items(config.prompts), []
        if config.dataset_id is not None:
            columns = PROMPT_COLUMNS if config.service == "llm" else TEXT_COLUMNS
            return dataset_items(self._dataset_file, config.dataset_id, columns, config.text_column)
        assert config.input_source is not None
        suffixes = IMAGE_SUFFIXES if config.service == "vision" else TEXT_SUFFIXES
        return folder_items(self._datasets_dir, config.input_source, suffixes)

    def run(self, ctx: JobContext) -> dict[str, Any]:
        config, items = self._checked(ctx.job.config)
        folder = self._work_root / f"job-{ctx.job.id}"
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / OUTPUT_FILE
        rows = complete_lines(output)
        if rows:
            ctx.log(LogLevel.INFO, f"resuming after {len(rows)} of {len(items)} items")
        process = self._operation(config)
        with output.open("a", encoding="utf-8") as sink:
            for index in range(len(rows), len(items)):
                ctx.raise_if_cancelled()
                row = _result_line(index, items[index], process)
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                rows.append(row)
                ctx.progress((index + 1) / len(items))
        failed = sum(1 for row in rows if "error" in row)
        ctx.log(LogLevel.METRIC, f"{config.service} {config.action}: {len(rows)} items, {failed} failed",
                values={"items": len(rows), "failed": failed})
        return {"service": config.service, "operation": config.action, "count": len(rows),
                "succeeded": len(rows) - failed, "failed": failed, "output_file": str(output),
                "outputs": rows[:INLINE_RESULTS]}

    def _operation(self, config: BatchProcessingConfig) -> Callable[[Item], dict[str, Any]]:
        """What one item goes through: the service's operation with the job's parameters."""
        match config.service, config.action:
            case "nlp", "analyze":
                return lambda item: operations.analyze(item.read_text(), config.analysis_types, config.language,
                                                       config.max_keywords)
            case "nlp", "summarize":
                return lambda item: operations.summarize(item.read_text(), *config.summary_lengths())
            case "vision", "classify":
                return lambda item: operations.classify(_path(item), config.top_k)
            case "vision", "analyze":
                analyses = config.analysis_types or list(VISION_ANALYSES)
                return lambda item: operations.analyze_image(_path(item), analyses, config.min_confidence)
            case _:
                return lambda item: operations.generate(self._generate, item.read_text(), config.model,
                                                        config.system, config.max_tokens, config.temperature)


def _parameter_problems(config: BatchProcessingConfig, given: set[str]) -> list[str]:
    """Every problem with the operation and its parameters (the libraries' own checks, on a valid sample text)."""
    service, action = config.service, config.action
    if action not in OPERATIONS[service]:
        return [f"operation: '{action}' is not one of {service}'s: {', '.join(OPERATIONS[service])}"]
    foreign = sorted(given - COMMON_PARAMETERS - SERVICE_PARAMETERS[service] - {"analysis_type"})
    problems = [f"{name}: not a parameter of the {service} service" for name in foreign]
    if config.analysis_types is not None and action != "analyze":
        problems.append(f"analysis_types: only {service}'s analyze reads them, not {action}")
    if service != "llm" and config.model not in DEFAULT_MODELS + ((CLASSIFIER_MODEL,) if service == "vision" else ()):
        problems.append(f"model: '{config.model}' is not available; send none (the service's own model)")
    if service == "nlp":
        from embodied_ai.nlp.analysis import ANALYSIS_TYPES, AUTO_LANGUAGE, analysis_problems
        from embodied_ai.nlp.keywords import DEFAULT_MAX_KEYWORDS
        from embodied_ai.nlp.summary import summary_problems

        sample = "A valid text."
        if action == "analyze":
            problems += analysis_problems(
                sample, config.analysis_types or ANALYSIS_TYPES, config.language or AUTO_LANGUAGE,
                DEFAULT_MAX_KEYWORDS if config.max_keywords is None else config.max_keywords)
        else:
            problems += summary_problems(sample, *config.summary_lengths())
    elif service == "vision":
        from embodied_ai.perception.classifier import MAX_TOP_K

        if config.top_k > MAX_TOP_K:
            problems.append(f"top_k: {config.top_k} is more than {MAX_TOP_K}")
        wanted = (config.analysis_types or list(VISION_ANALYSES)) if action == "analyze" else []
        if "object_detection" in wanted:
            problems.append("analysis_type: object_detection needs the perception node's detector, which batch jobs "
                            "do not use: send one image at a time to POST /v1/ai/vision/analyze")
        problems += [f"analysis_type: unknown analysis '{name}'; choose from {', '.join(VISION_ANALYSES)}"
                     for name in wanted if name not in (*VISION_ANALYSES, "object_detection")]
        if action == "classify" or "scene_analysis" in wanted:
            problems += operations.classifier_problems()
    return problems


def _path(item: Item) -> Path:
    assert item.path is not None   # vision reads folders only
    return item.path


def _result_line(index: int, item: Item, process: Callable[[Item], dict[str, Any]]) -> dict[str, Any]:
    """The item's result, or its error: an item the service refuses does not stop the batch."""
    try:
        return {"index": index, **item.source, **process(item)}
    except EmbodiedError as exc:
        error: dict[str, Any] = {"code": int(exc.code), "message": str(exc)}
        if isinstance(exc, InvalidRequest) and exc.problems:
            error["problems"] = exc.problems
        return {"index": index, **item.source, "error": error}
    except OSError as exc:   # a file that went away or cannot be read
        return {"index": index, **item.source,
                "error": {"code": int(ErrorCode.DATASET_INVALID), "message": f"cannot read the file: {exc}"}}
