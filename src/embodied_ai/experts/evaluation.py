"""Measured quality of an expert on held-out rows, through the same engine that serves it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied_ai.experts.engine import GenerationRequest, InferenceEngine
from embodied_ai.experts.robot_actions import ActionParseError, action_json_schema, parse_action


@dataclass
class EvaluationReport:
    examples: int
    exact: int
    valid: int
    failures: list[dict[str, str]] = field(default_factory=list)
    tokens_per_second: float = 0.0

    @property
    def exact_rate(self) -> float:
        return self.exact / self.examples if self.examples else 0.0

    @property
    def valid_rate(self) -> float:
        return self.valid / self.examples if self.examples else 0.0

    def to_metrics(self) -> dict[str, Any]:
        return {"accuracy": round(self.exact_rate, 4), "valid_json": round(self.valid_rate, 4),
                "held_out_examples": self.examples, "tokens_per_second": round(self.tokens_per_second, 1)}


def read_rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluate_robot_control(engine: InferenceEngine, expert: str | None, rows: Sequence[dict[str, str]],
                           system: str = "", constrained: bool = True, max_tokens: int = 48) -> EvaluationReport:
    """Exact action match: the decoded action equals the expected one, field for field."""
    schema = action_json_schema() if constrained else None
    report = EvaluationReport(examples=len(rows), exact=0, valid=0)
    speeds = []
    for row in rows:
        result = engine.generate(GenerationRequest(row["prompt"], system=system, max_tokens=max_tokens,
                                                   json_schema=schema), expert)
        speeds.append(result.tokens_per_second)
        expected = parse_action(row["completion"])
        try:
            got = parse_action(result.text)
        except ActionParseError:
            report.failures.append({"prompt": row["prompt"], "expected": row["completion"], "got": result.text})
            continue
        report.valid += 1
        if got == expected:
            report.exact += 1
        else:
            report.failures.append({"prompt": row["prompt"], "expected": row["completion"], "got": result.text})
    report.tokens_per_second = sum(speeds) / len(speeds) if speeds else 0.0
    return report


def exact_match_rate(engine: InferenceEngine, expert: str | None, rows: Sequence[dict[str, str]],
                     system: str = "", max_tokens: int = 96) -> float:
    """Share of rows whose greedy answer starts with the expected completion (math, python)."""
    if not rows:
        return 0.0
    hits = 0
    for row in rows:
        result = engine.generate(GenerationRequest(row["prompt"], system=system, max_tokens=max_tokens), expert)
        hits += result.text.strip().startswith(row["completion"].strip())
    return hits / len(rows)


_FINAL_ANSWER = re.compile(r"The answer is (-?\d+)")


def final_answer(text: str) -> str | None:
    """The number after the last "The answer is" (the math expert's answer format)."""
    found = _FINAL_ANSWER.findall(text)
    return found[-1] if found else None


def evaluate_final_answers(engine: InferenceEngine, expert: str | None, rows: Sequence[dict[str, str]],
                           system: str = "", max_tokens: int = 64) -> EvaluationReport:
    """Math: the generated final answer equals the expected one (greedy; ``valid`` counts
    answers that state a final number at all)."""
    report = EvaluationReport(examples=len(rows), exact=0, valid=0)
    speeds = []
    for row in rows:
        result = engine.generate(GenerationRequest(row["prompt"], system=system, max_tokens=max_tokens), expert)
        speeds.append(result.tokens_per_second)
        got, expected = final_answer(result.text), final_answer(row["completion"])
        report.valid += got is not None
        if got is not None and got == expected:
            report.exact += 1
        else:
            report.failures.append({"prompt": row["prompt"], "expected": row["completion"], "got": result.text})
    report.tokens_per_second = sum(speeds) / len(speeds) if speeds else 0.0
    return report


def completion_perplexity(hf_dir: Path, rows_path: Path, peft_dir: Path | None = None,
                          threads: int = 1, max_length: int = 160) -> dict[str, float]:
    """Perplexity of the held-out completions (the tokens an expert must write, in the chat
    format it is trained and served with) under the decoded quantized base, with the PEFT
    adapter when given. Torch forward passes only; ``threads`` as in training."""
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from embodied_ai.experts.training import ChatDataset, TrainingConfig

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)  # or the PEFT model over it
    if peft_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, peft_dir)
    model.eval()
    data = ChatDataset(rows_path, tokenizer, TrainingConfig(max_length=max_length))
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for example in data.examples:
            ids = torch.tensor([example["input_ids"]])
            labels = torch.tensor([example["labels"]])
            logits = model(input_ids=ids).logits[0, :-1].float()
            target = labels[0, 1:]
            mask = target != -100
            nll = torch.nn.functional.cross_entropy(logits[mask], target[mask], reduction="sum")
            total_nll += float(nll)
            total_tokens += int(mask.sum())
    mean = total_nll / max(1, total_tokens)
    return {"perplexity": round(math.exp(mean), 3), "mean_nll": round(mean, 4), "tokens": total_tokens,
            "examples": len(data)}
