"""Measured quality of an expert on held-out rows, through the same engine that serves it."""

from __future__ import annotations

import json
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
