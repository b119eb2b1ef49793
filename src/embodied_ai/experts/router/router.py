"""The router: which domain expert should answer a prompt.

prompt -> all-MiniLM-L6-v2 embedding (ONNX Runtime) -> gate (ONNX) -> top-1 expert with its
probability as the confidence; below the threshold the fallback expert answers instead. Every
decision is counted per expert, feedback on a decision measures each expert's accuracy, and
the gate can be retrained from a JSONL of labelled prompts.

State directory layout (everything a restart needs, each file replaced atomically):
    gate.onnx       the gate (expert names in its metadata)
    router.json     threshold, fallback expert, gate version, last training metrics
    router.sqlite   per-expert counters, recent decisions, feedback
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.datasets import DatasetInvalidError, RowError
from embodied_ai.experts.router.embedding import SentenceEmbedder
from embodied_ai.experts.router.examples import LabelledPrompt, load_labelled_prompts
from embodied_ai.experts.router.gate import GateMetrics, GateSession, GateTrainingConfig, train_gate
from embodied_ai.experts.router.storage import StatisticsStore, atomic_write_bytes, atomic_write_json

GATE_FILE = "gate.onnx"
CONFIG_FILE = "router.json"
STATS_FILE = "router.sqlite"
# The gate this repository builds and commits (models/router/train_router.py rebuilds it);
# src/embodied_ai/experts/router/router.py -> the repository root is four levels up.
COMMITTED_GATE = Path(__file__).resolve().parents[4] / "models" / "router" / "gate.onnx"


class RouterError(EmbodiedError):
    code = ErrorCode.INFERENCE_FAILED


class UnknownExpertError(EmbodiedError):
    code = ErrorCode.EXPERT_NOT_FOUND


@dataclass(frozen=True)
class RouterConfig:
    """Routing policy and the thresholds that raise issues in the statistics."""

    threshold: float = 0.5            # below this top-1 probability the fallback expert answers
    fallback_expert: str = "general"
    # Issues are only raised once there is enough evidence to mean something.
    min_requests_for_issues: int = 50
    low_confidence: float = 0.6
    min_selections_for_confidence: int = 10
    low_accuracy: float = 0.8
    min_feedback_for_accuracy: int = 10
    high_fallback_rate: float = 0.2


@dataclass(frozen=True)
class RouteDecision:
    expert: str                 # who answers: the gate's choice, or the fallback when unsure
    confidence: float           # the gate's probability for its top choice
    fallback: bool              # True when confidence < threshold and the fallback was used
    scores: dict[str, float]    # every expert's probability, best first
    top_expert: str             # the gate's top choice, even when the fallback answers
    request_id: str             # name this decision in record_feedback()
    truncated: bool = False     # the prompt was longer than the embedder's 256 tokens


@dataclass(frozen=True)
class ExpertStatistics:
    """One row of the Robot API's GET /router/stats `stats` list (expert_id comes from the registry)."""

    expert_name: str
    selections: int
    avg_confidence: float | None     # None until the expert has been selected
    accuracy: float | None           # share of feedback on its selections that agreed; None without feedback
    feedback_count: int


@dataclass(frozen=True)
class RouterIssue:
    """One row of the Robot API's `issues` list."""

    type: str                 # unused_expert, low_confidence, low_accuracy, frequent_fallback
    expert: str | None
    recommendation: str
    message: str


@dataclass(frozen=True)
class RouterStatistics:
    stats: list[ExpertStatistics]
    issues: list[RouterIssue]
    total_requests: int
    fallback_rate: float
    gate_version: int

    def to_dict(self, expert_ids: dict[str, int] | None = None) -> dict[str, Any]:
        """The Robot API's response `data` shape; pass the registry's ids to fill `expert_id`."""
        ids = expert_ids or {}
        return {
            "stats": [{"expert_id": ids.get(s.expert_name), **asdict(s)} for s in self.stats],
            "issues": [asdict(issue) for issue in self.issues],
            "total_requests": self.total_requests,
            "fallback_rate": self.fallback_rate,
            "gate_version": self.gate_version,
        }


    def to_message_fields(self) -> dict[str, Any]:
        """The fields of embodied_interfaces/RouterStatistics (NaN where there is no value yet)."""
        return {
            "total_requests": int(self.total_requests),
            "fallback_rate": float(self.fallback_rate),
            "experts": [s.expert_name for s in self.stats],
            "selections": [int(s.selections) for s in self.stats],
            "average_confidence": [_nan_if_none(s.avg_confidence) for s in self.stats],
            "feedback_accuracy": [_nan_if_none(s.accuracy) for s in self.stats],
            "issues": [issue.message for issue in self.issues],
        }


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass
class RetrainResult:
    metrics: GateMetrics
    gate_version: int
    experts: list[str]
    row_errors: list[RowError] = field(default_factory=list)
    feedback_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate_version": self.gate_version,
            "experts": self.experts,
            "metrics": self.metrics.to_dict(),
            "row_errors": [asdict(e) for e in self.row_errors],
            "feedback_examples": self.feedback_examples,
        }

    def reported_row_errors(self, limit: int) -> list[str]:
        """"row N: why" for the first ``limit`` rows that were left out."""
        return [str(e) for e in self.row_errors[:limit]]

    @property
    def summary(self) -> str:
        return (f"gate version {self.gate_version} trained on {self.metrics.examples} prompts "
                f"({self.feedback_examples} from feedback) for {', '.join(self.experts)}")


class Router:
    """Routes prompts to experts; thread-safe; all state in one directory.

    Typical use::

        router = Router.load(state_dir)                 # seeds the committed gate on first use
        decision = router.route("open your left hand")  # -> robot_control
        router.record_feedback(decision.request_id, "robot_control")
        router.statistics().to_dict()
        router.retrain("data/router_training.jsonl", num_epochs=10)
    """

    def __init__(
        self,
        state_dir: Path,
        gate: GateSession,
        config: RouterConfig,
        gate_version: int = 1,
        embedder: SentenceEmbedder | None = None,
        last_training: dict[str, Any] | None = None,
    ) -> None:
        _check_fallback(config.fallback_expert, gate.experts)
        self.state_dir = Path(state_dir)
        self.embedder = embedder or SentenceEmbedder()
        self.store = StatisticsStore(self.state_dir / STATS_FILE)
        self._gate = gate
        self._config = config
        self._gate_version = gate_version
        self._last_training = last_training or {}
        self._retrain_lock = threading.Lock()
        # sha256 of the committed gate this state was seeded with, while it runs that copy.
        self._seeded_from: str | None = None

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        state_dir: str | Path,
        initial_gate: Path | None = COMMITTED_GATE,
        config: RouterConfig | None = None,
        embedder: SentenceEmbedder | None = None,
    ) -> Router:
        """Open the router kept in state_dir. On first use the directory is seeded with
        `initial_gate` (the committed default gate); a state that still runs an unretrained
        copy of an older committed gate is moved to the current one (a retrained gate is never
        replaced). `config`, when given, replaces the saved one."""
        state_dir = Path(state_dir)
        gate_path = state_dir / GATE_FILE
        saved = _read_saved_config(state_dir / CONFIG_FILE)
        seeded_from = saved.get("seeded_from")
        initial = Path(initial_gate) if initial_gate and Path(initial_gate).exists() else None
        initial_sha = _sha256(initial) if initial else ""
        if not gate_path.exists():
            if initial is None:
                raise RouterError(f"no router gate in {state_dir} and no initial gate to start from")
            seeded_from = _seed_gate(initial, gate_path, initial_sha)
        elif initial and seeded_from and seeded_from != initial_sha and _sha256(gate_path) == seeded_from:
            seeded_from = _seed_gate(initial, gate_path, initial_sha)
        known = {f.name for f in fields(RouterConfig)}
        router_config = config or RouterConfig(**{k: v for k, v in saved.get("config", {}).items() if k in known})
        router = cls(
            state_dir,
            GateSession.from_file(gate_path),
            router_config,
            gate_version=int(saved.get("gate_version", 1)),
            embedder=embedder,
            last_training=saved.get("last_training"),
        )
        router._seeded_from = seeded_from
        router._save_config()
        return router

    @classmethod
    def train(
        cls,
        state_dir: str | Path,
        examples: Sequence[LabelledPrompt],
        experts: Sequence[str] | None = None,
        config: RouterConfig = RouterConfig(),
        training: GateTrainingConfig = GateTrainingConfig(),
        embedder: SentenceEmbedder | None = None,
    ) -> Router:
        """Train a fresh gate on labelled prompts and keep it in state_dir (statistics start empty)."""
        embedder = embedder or SentenceEmbedder()
        trained = _train(embedder, examples, experts, training)
        _check_fallback(config.fallback_expert, trained.experts)
        state_dir = Path(state_dir)
        gate = GateSession(trained.onnx_bytes)
        gate.save(state_dir / GATE_FILE)
        router = cls(state_dir, gate, config, gate_version=1, embedder=embedder,
                     last_training=trained.metrics.to_dict())
        router.store.reset()
        router._save_config()
        return router

    def close(self) -> None:
        self.store.close()

    # ---- routing ------------------------------------------------------------------------

    @property
    def experts(self) -> list[str]:
        return list(self._gate.experts)

    @property
    def config(self) -> RouterConfig:
        return self._config

    @property
    def gate_version(self) -> int:
        return self._gate_version

    def set_policy(self, threshold: float | None = None, fallback_expert: str | None = None) -> None:
        """Change the threshold or the fallback expert; saved for the next load."""
        updated = self._config
        if threshold is not None:
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold must be in [0, 1], got {threshold}")
            updated = replace(updated, threshold=threshold)
        if fallback_expert is not None:
            _check_fallback(fallback_expert, self._gate.experts)
            updated = replace(updated, fallback_expert=fallback_expert)
        self._config = updated
        self._save_config()

    def route(self, prompt: str) -> RouteDecision:
        """The expert for one prompt. An empty prompt raises EmptyPromptError (INFERENCE_FAILED);
        a prompt over 256 tokens is routed on its first 256 (decision.truncated says so)."""
        return self.route_batch([prompt])[0]

    def route_batch(self, prompts: Sequence[str], record: bool = True) -> list[RouteDecision]:
        """Route many prompts in one embedding pass (much higher throughput than one by one)."""
        embeddings, truncated = self.embedder.embed_with_truncation(prompts)
        gate, config = self._gate, self._config  # one consistent gate even if retrain swaps it
        probabilities = gate.probabilities(embeddings)
        decisions = [
            _decide(row, gate.experts, config, cut)
            for row, cut in zip(probabilities, truncated)
        ]
        if record:
            self.store.record_decisions(
                [(d.request_id, p, d.expert, d.top_expert, d.confidence, d.fallback)
                 for d, p in zip(decisions, prompts)]
            )
        return decisions

    # ---- feedback and statistics --------------------------------------------------------

    def record_feedback(self, prompt_or_request_id: str, correct_expert: str) -> None:
        """Say which expert should have answered a routed request (by its request_id, or by
        the prompt text: the latest decision for exactly that prompt)."""
        if correct_expert not in self._gate.experts:
            raise UnknownExpertError(f"unknown expert {correct_expert!r}; the router knows {self.experts}")
        decision = self.store.find_decision(prompt_or_request_id)
        if decision is None:
            raise RouterError(f"no routed request with id or prompt {prompt_or_request_id[:80]!r}")
        self.store.record_feedback(decision, correct_expert)

    def statistics(self) -> RouterStatistics:
        counters = self.store.counters()
        totals = self.store.totals()
        requests = totals.get("requests", 0)
        fallback_rate = totals.get("fallbacks", 0) / requests if requests else 0.0
        rows = []
        for expert in self._gate.experts:
            counter = counters.get(expert)
            selections = counter.selections if counter else 0
            feedback = counter.feedback_total if counter else 0
            rows.append(ExpertStatistics(
                expert_name=expert,
                selections=selections,
                avg_confidence=round(counter.confidence_sum / selections, 4) if counter and selections else None,
                accuracy=round(counter.feedback_correct / feedback, 4) if counter and feedback else None,
                feedback_count=feedback,
            ))
        issues = _find_issues(rows, requests, fallback_rate, self._config)
        return RouterStatistics(rows, issues, requests, round(fallback_rate, 4), self._gate_version)

    def reset_statistics(self) -> None:
        self.store.reset()

    # ---- retraining ---------------------------------------------------------------------

    def retrain(
        self,
        training_data_path: str | Path,
        num_epochs: int | None = None,
        include_feedback: bool = True,
        training: GateTrainingConfig = GateTrainingConfig(),
    ) -> RetrainResult:
        """Train a new gate on a JSONL of {"prompt", "expert"} rows (the Robot API's POST
        /router/retrain), plus the corrections recorded as feedback, and swap it in.

        The experts are the labels found in the data, so a new expert is added by labelling
        prompts for it. The old gate stays in service until the new one is saved; a failure
        leaves it untouched. Malformed rows are reported in the result and skipped.
        """
        loaded = load_labelled_prompts(training_data_path)
        examples = list(loaded.examples)
        # The data decides the experts: feedback naming an expert the data no longer has is
        # left out rather than bringing that expert back on a handful of examples.
        experts = sorted({e.expert for e in examples})
        feedback_examples = 0
        if include_feedback:
            known = {" ".join(e.prompt.split()).lower() for e in examples}
            for prompt, expert in self.store.corrections():
                if expert in experts and " ".join(prompt.split()).lower() not in known:
                    examples.append(LabelledPrompt(prompt, expert))
                    feedback_examples += 1
        if self._config.fallback_expert not in experts:
            raise DatasetInvalidError(
                f"the training data has no prompts for the fallback expert {self._config.fallback_expert!r}"
            )
        if num_epochs is not None:
            training = replace(training, epochs=num_epochs)
        with self._retrain_lock:
            trained = _train(self.embedder, examples, experts, training)
            gate = GateSession(trained.onnx_bytes)
            gate.save(self.state_dir / GATE_FILE)
            self._gate = gate
            self._seeded_from = None  # retrained: never replaced by a newer committed gate
            self._gate_version += 1
            self._last_training = trained.metrics.to_dict()
            self._save_config()
        return RetrainResult(trained.metrics, self._gate_version, trained.experts,
                             loaded.errors, feedback_examples)

    def _save_config(self) -> None:
        atomic_write_json(self.state_dir / CONFIG_FILE, {
            "config": asdict(self._config),
            "gate_version": self._gate_version,
            "experts": self._gate.experts,
            "last_training": self._last_training,
            "seeded_from": self._seeded_from,
            "saved_at": time.time(),
        })


def _train(embedder: SentenceEmbedder, examples: Sequence[LabelledPrompt],
           experts: Iterable[str] | None, training: GateTrainingConfig):
    if not examples:
        raise DatasetInvalidError("no labelled prompts to train the router on")
    embeddings = embedder.embed([e.prompt for e in examples])
    try:
        return train_gate(embeddings, [e.expert for e in examples],
                          list(experts) if experts is not None else None, training)
    except ValueError as error:
        raise DatasetInvalidError(f"cannot train the router: {error}") from error


def _decide(probabilities: np.ndarray, experts: list[str], config: RouterConfig, truncated: bool) -> RouteDecision:
    order = np.argsort(-probabilities, kind="stable")
    top = experts[order[0]]
    confidence = float(probabilities[order[0]])
    fallback = confidence < config.threshold
    return RouteDecision(
        expert=config.fallback_expert if fallback else top,
        confidence=confidence,
        fallback=fallback,
        scores={experts[i]: float(probabilities[i]) for i in order},
        top_expert=top,
        request_id=uuid.uuid4().hex,
        truncated=truncated,
    )


def _find_issues(rows: list[ExpertStatistics], requests: int, fallback_rate: float,
                 config: RouterConfig) -> list[RouterIssue]:
    issues: list[RouterIssue] = []
    for row in rows:
        if requests >= config.min_requests_for_issues and row.selections == 0:
            issues.append(RouterIssue(
                "unused_expert", row.expert_name, "Consider removing or retraining",
                f"expert '{row.expert_name}' never selected in {requests} requests"))
        if (row.selections >= config.min_selections_for_confidence and row.avg_confidence is not None
                and row.avg_confidence < config.low_confidence):
            issues.append(RouterIssue(
                "low_confidence", row.expert_name, "Add labelled prompts for this expert and retrain the router",
                f"expert '{row.expert_name}' selected with average confidence {row.avg_confidence:.2f}"))
        if (row.feedback_count >= config.min_feedback_for_accuracy and row.accuracy is not None
                and row.accuracy < config.low_accuracy):
            issues.append(RouterIssue(
                "low_accuracy", row.expert_name, "Retrain the router with the recorded feedback",
                f"expert '{row.expert_name}' was the right choice in {row.accuracy:.0%} of "
                f"{row.feedback_count} judged requests"))
    if requests >= config.min_requests_for_issues and fallback_rate > config.high_fallback_rate:
        issues.append(RouterIssue(
            "frequent_fallback", config.fallback_expert, "Lower the threshold or retrain with more varied prompts",
            f"{fallback_rate:.0%} of {requests} requests fell back to '{config.fallback_expert}'"))
    return issues


def _check_fallback(fallback_expert: str, experts: Sequence[str]) -> None:
    if fallback_expert not in experts:
        raise UnknownExpertError(
            f"fallback expert {fallback_expert!r} is not one of the gate's experts {list(experts)}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seed_gate(source: Path, gate_path: Path, source_sha: str) -> str:
    gate_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(gate_path, source.read_bytes())
    return source_sha


def _read_saved_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())
