"""Batch inference as a job: many prompts through the mixture of experts, one completion each.

A ``batch_inference`` job's config names its prompts (a list, or an uploaded dataset whose prompt
column is read: ``prompt``, ``instruction``, ``question``, else the dataset's text column), an expert
("" lets the router choose) and the generation settings. Completions are appended to
``<work>/job-<id>/completions.jsonl`` one line per prompt as they come, so a job whose process was
killed resumes after the last written line (the prompt under way is asked again). A prompt the
experts refuse gets its error on its line; the batch goes on. The result counts them and carries
the first completions inline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from embodied_ai.errors import EmbodiedError, InvalidRequest, validation_problems
from embodied_ai.jobs.models import LogLevel
from embodied_ai.jobs.runner import JobContext, JobKind

BATCH_INFERENCE_JOB = "batch_inference"
OUTPUT_FILE = "completions.jsonl"
INLINE_RESULTS = 100                       # completions carried in the job's result; the rest: the file
PROMPT_COLUMNS = ("prompt", "instruction", "question", "input", "text")
MAX_PROMPTS = 10_000


class BatchInferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_PROMPTS,
                                      description="the prompts, in order")
    dataset_id: int | None = Field(default=None, ge=1, description="an uploaded dataset: its prompt column")
    expert: str = Field(default="", max_length=64, description="id or name; '' = the router chooses per prompt")
    system: str = Field(default="", max_length=4000)
    max_tokens: int = Field(default=0, ge=0, le=4096, description="0 = the expert's default")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, allow_inf_nan=False)
    name: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> BatchInferenceConfig:
        if (self.prompts is None) == (self.dataset_id is None):
            raise ValueError("give either prompts or dataset_id")
        if self.prompts is not None and any(not p.strip() for p in self.prompts):
            raise ValueError("every prompt must have text")
        return self

    @classmethod
    def parse(cls, config: dict[str, Any]) -> BatchInferenceConfig:
        try:
            return cls.model_validate(config)
        except ValidationError as exc:
            problems = validation_problems(exc, "config")
            raise InvalidRequest("invalid batch inference job", problems) from None


@dataclass(frozen=True)
class Completion:
    text: str
    expert: str
    finish_reason: str
    completion_tokens: int


class Generate(Protocol):
    """One generation by the serving engine (the experts node); EmbodiedError when it refuses."""

    def __call__(self, prompt: str, expert: str, system: str, max_tokens: int, temperature: float) -> Completion: ...


class BatchInference:
    def __init__(self, work_root: Path, generate: Generate, dataset_file: Callable[[int], tuple[Path, str | None]]
                 ) -> None:
        """``dataset_file(id)``: an uploaded dataset's file and its text column (NotFound for an unknown id)."""
        self._work_root, self._generate, self._dataset_file = work_root, generate, dataset_file

    def kind(self) -> JobKind:
        return JobKind(run=self.run, resumable=True, validate=self.validate)

    def validate(self, config: dict[str, Any]) -> None:
        parsed = BatchInferenceConfig.parse(config)
        if parsed.dataset_id is not None:
            self._prompts(parsed)   # an unknown dataset, or one without prompts, is refused now

    def _prompts(self, config: BatchInferenceConfig) -> list[str]:
        if config.prompts is not None:
            return list(config.prompts)
        from embodied_ai.experts.datasets import read_records

        assert config.dataset_id is not None
        path, text_column = self._dataset_file(config.dataset_id)
        table = read_records(path)
        column = next((c for c in PROMPT_COLUMNS if c in table.columns), text_column)
        prompts = [v for r in table.records if isinstance(v := r.values.get(column or ""), str) and v.strip()]
        if not prompts:
            raise InvalidRequest(f"dataset {config.dataset_id} has no prompts", [
                f"dataset_id: no column of {', '.join(PROMPT_COLUMNS)} (or a text column) with text"])
        return prompts[:MAX_PROMPTS]

    def run(self, ctx: JobContext) -> dict[str, Any]:
        config = BatchInferenceConfig.parse(ctx.job.config)
        prompts = self._prompts(config)
        folder = self._work_root / f"job-{ctx.job.id}"
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / OUTPUT_FILE
        rows = _complete_lines(output)
        if rows:
            ctx.log(LogLevel.INFO, f"resuming after {len(rows)} of {len(prompts)} prompts")
        with output.open("a", encoding="utf-8") as sink:
            for index in range(len(rows), len(prompts)):
                ctx.raise_if_cancelled()
                row = self._answer(index, prompts[index], config)
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                rows.append(row)
                ctx.progress((index + 1) / len(prompts))
        failed = sum(1 for row in rows if "error" in row)
        tokens = sum(int(row.get("completion_tokens", 0)) for row in rows)
        ctx.log(LogLevel.METRIC, f"{len(rows)} prompts, {failed} failed, {tokens} tokens",
                values={"prompts": len(rows), "failed": failed, "completion_tokens": tokens})
        return {"count": len(rows), "failed": failed, "completion_tokens": tokens,
                "output_file": str(output), "outputs": rows[:INLINE_RESULTS]}

    def _answer(self, index: int, prompt: str, config: BatchInferenceConfig) -> dict[str, Any]:
        try:
            done = self._generate(prompt, config.expert, config.system, config.max_tokens, config.temperature)
        except EmbodiedError as exc:
            return {"index": index, "prompt": prompt, "error": {"code": int(exc.code), "message": str(exc)}}
        return {"index": index, "prompt": prompt, "text": done.text, "expert": done.expert,
                "finish_reason": done.finish_reason, "completion_tokens": done.completion_tokens}


def _complete_lines(path: Path) -> list[dict[str, Any]]:
    """The rows a previous attempt finished; a last line cut by a kill is dropped (and rewritten)."""
    if not path.is_file():
        return []
    rows, text = [], path.read_text(encoding="utf-8")
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        rows.append(json.loads(line))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return rows
