"""Router API: the experts node's routing statistics, routing decisions and retraining."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends

from embodied_ai.bridge.errors import ApiError, error_responses
from embodied_ai.bridge.ports.inference import InferencePort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, Message, ok
from embodied_ai.bridge.schemas.router import ExpertRouting, RouteBody, Routed, RouterIssue, RouterRetrain, RouterStats
from embodied_ai.bridge.security import authorize
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.uploads import path_inside

router = APIRouter(prefix=f"{deps.API_PREFIX}/router", tags=["router"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 422, 429, 503, 504))
Inference = Annotated[InferencePort, Depends(deps.inference)]
Settings = Annotated[BridgeSettings, Depends(deps.settings)]


def finite_or_none(value: float) -> float | None:
    """The router reports NaN for "no data yet"; JSON has no NaN, the contract says null."""
    return value if math.isfinite(value) else None


@router.get("/stats", summary="Per-expert routing statistics and issues")
async def stats(inference: Inference) -> Envelope[RouterStats]:
    s = inference.router_statistics()
    experts = [ExpertRouting(expert_name=name, selections=selections, avg_confidence=finite_or_none(confidence),
                             accuracy=finite_or_none(accuracy))
               for name, selections, confidence, accuracy
               in zip(s.experts, s.selections, s.average_confidence, s.feedback_accuracy)]
    return ok(RouterStats(total_requests=s.total_requests, fallback_rate=s.fallback_rate, stats=experts,
                          issues=[RouterIssue(message=issue) for issue in s.issues]))


@router.post("/route", summary="Which expert would answer this prompt (nothing is generated)")
async def route(body: RouteBody, inference: Inference) -> Envelope[Routed]:
    r = await inference.route(body.prompt)
    return ok(Routed(expert=r.expert, confidence=r.confidence, fallback=r.fallback,
                     candidates=r.candidates, scores=r.scores))


@router.post("/retrain", summary="Retrain the router from a JSONL of labelled prompts")
async def retrain(body: RouterRetrain, inference: Inference, settings: Settings) -> Envelope[Message]:
    datasets = settings.state_dir / "datasets"
    path = path_inside(datasets, body.training_data_path)
    if not path.is_file():
        raise ApiError(400, "no such file in the datasets folder", body.training_data_path)
    # Answers when the new gate is in service (or training failed, with the Robot API's code).
    retrained = await inference.retrain_router(path, body.num_epochs)
    skipped = f"; rows left out: {'; '.join(retrained.row_errors)}" if retrained.row_errors else ""
    return ok(Message(status="completed", message=f"{retrained.message}{skipped}"))
