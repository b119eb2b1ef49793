"""Measured quality of an expert on held-out rows, through the same engine that serves it; of a model not
served yet (a pipeline's), with torch: loss, perplexity and greedy exact match."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
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
    model, tokenizer = load_causal_lm(hf_dir, peft_dir, threads=threads)
    return completion_loss(model, tokenizer, rows_path, max_length)


def load_causal_lm(hf_dir: Path, peft_dir: Path | None = None, tokenizer_dir: Path | None = None,
                   threads: int = 1) -> tuple[Any, Any]:
    """(model, tokenizer) to evaluate with torch: ``hf_dir``'s model in float32, eval mode, with the PEFT
    adapter at ``peft_dir`` applied when given; the tokenizer from ``tokenizer_dir`` (default ``hf_dir``: a
    model trained from scratch saves none, its tokenizer is the base's)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir or hf_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)  # or the PEFT model over it
    if peft_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, peft_dir)
    return model.eval(), tokenizer


def completion_loss(model: Any, tokenizer: Any, rows_path: Path, max_length: int = 160) -> dict[str, float]:
    """Mean negative log-likelihood per token (``mean_nll``) and perplexity of the rows at ``rows_path`` on
    the tokens training puts its loss on (`training.ChatDataset`: an answer and its end of turn, or the whole
    of a text row), with their counts."""
    import math

    import torch

    from embodied_ai.experts.training import ChatDataset, TrainingConfig

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


@dataclass(frozen=True)
class ExpectedAnswer:
    """What a row asks and the answer it expects, in the chat format training uses."""

    prompt: str                 # the user turn
    system: str
    answer: str


def expected_answer(row: dict[str, Any]) -> ExpectedAnswer | None:
    """The question and answer of a training row (``prompt``/``completion``, or ``messages``: the last user
    turn and the final assistant turn, as `training.ChatDataset` reads them); None for a text row."""
    if isinstance(row.get("messages"), list) and row["messages"]:
        messages = row["messages"]
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), None)
        if user is None or messages[-1].get("role") != "assistant":
            return None
        return ExpectedAnswer(str(user), str(system), str(messages[-1]["content"]))
    if isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str):
        return ExpectedAnswer(row["prompt"], str(row.get("system", "")), row["completion"])
    return None


def normalise_answer(text: str) -> str:
    """An answer as exact match compares it: whitespace runs made one space, stripped, case folded."""
    return " ".join(text.split()).casefold()


def generated_exact_match(model: Any, tokenizer: Any, questions: Sequence[ExpectedAnswer], max_tokens: int = 128,
                          on_row: Callable[[int], None] = lambda _done: None) -> EvaluationReport:
    """Greedy generation with torch (the model as `load_causal_lm` gives it) for each question, in the chat
    format; ``exact`` counts answers equal to the expected one after `normalise_answer`, ``valid`` the
    non-empty ones. Each answer may run to the expected answer's length plus 16 tokens (at most
    ``max_tokens``) and ends at the end-of-turn token. ``on_row(done)`` after each row (progress, cancel)."""
    import torch

    from embodied_ai.experts.prompts import END_OF_TURN, chat_prompt

    stops = [t for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END_OF_TURN)}
             if isinstance(t, int) and t != tokenizer.unk_token_id]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stops or [0])[0]
    report = EvaluationReport(examples=len(questions), exact=0, valid=0)
    for done, question in enumerate(questions, start=1):
        ids = tokenizer(chat_prompt(question.prompt, question.system), return_tensors="pt",
                        add_special_tokens=False)["input_ids"]
        budget = len(tokenizer(question.answer, add_special_tokens=False)["input_ids"]) + 16
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=min(budget, max_tokens), eos_token_id=stops or None,
                                 pad_token_id=pad)
        new = [int(t) for t in out[0, ids.shape[1]:]]
        cut = next((i for i, t in enumerate(new) if t in stops), len(new))
        got = tokenizer.decode(new[:cut], skip_special_tokens=True)
        report.valid += bool(got.strip())
        if normalise_answer(got) == normalise_answer(question.answer):
            report.exact += 1
        else:
            report.failures.append({"prompt": question.prompt, "expected": question.answer, "got": got})
        on_row(done)
    return report
