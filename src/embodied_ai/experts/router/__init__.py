"""Routing a prompt to a domain expert: MiniLM sentence embeddings + a trained ONNX gate.

    from embodied_ai.experts.router import Router
    router = Router.load(state_dir)
    decision = router.route("turn your head to the left")
    decision.expert, decision.confidence, decision.fallback, decision.scores
"""

from embodied_ai.experts.router.embedding import EmptyPromptError, SentenceEmbedder
from embodied_ai.experts.router.examples import LabelledPrompt, load_labelled_prompts, write_labelled_prompts
from embodied_ai.experts.router.gate import GateMetrics, GateSession, GateTrainingConfig, train_gate
from embodied_ai.experts.router.router import (
    COMMITTED_GATE,
    ExpertStatistics,
    RetrainResult,
    RouteDecision,
    Router,
    RouterConfig,
    RouterError,
    RouterIssue,
    RouterStatistics,
    UnknownExpertError,
)

__all__ = [
    "COMMITTED_GATE",
    "EmptyPromptError",
    "ExpertStatistics",
    "GateMetrics",
    "GateSession",
    "GateTrainingConfig",
    "LabelledPrompt",
    "RetrainResult",
    "RouteDecision",
    "Router",
    "RouterConfig",
    "RouterError",
    "RouterIssue",
    "RouterStatistics",
    "SentenceEmbedder",
    "UnknownExpertError",
    "load_labelled_prompts",
    "train_gate",
    "write_labelled_prompts",
]
