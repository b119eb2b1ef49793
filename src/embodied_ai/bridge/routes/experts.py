"""Expert Management API, over the experts node's registry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import TypeAdapter

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.experts import (
    ExpertChanges,
    ExpertFilter,
    ExpertRecord,
    ExpertSpec,
    ExpertsPort,
    ModelShape,
)
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.experts import (
    ExpertCreate,
    ExpertCreated,
    ExpertDeleted,
    ExpertDetail,
    ExpertPage,
    ExpertQuery,
    ExpertResize,
    ExpertSummary,
    ExpertUpdate,
)
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=f"{deps.API_PREFIX}/experts", tags=["experts"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 422, 429, 503, 504))
Experts = Annotated[ExpertsPort, Depends(deps.experts)]
ExpertId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
                               description="the expert's id (or its name)")]
TIMESTAMP = TypeAdapter(datetime)


def timestamp(text: str | None) -> datetime | None:
    """The registry's ISO 8601 text, read as the contract's models read it."""
    return TIMESTAMP.validate_python(text) if text else None


def expert_filter(query: ExpertQuery) -> ExpertFilter:
    return ExpertFilter(category=query.category or "", status=query.status or "", sort_by=query.sort_by,
                        limit=query.limit, offset=query.offset)


def expert_summary(expert: ExpertRecord) -> ExpertSummary:
    return ExpertSummary(
        id=expert.id, name=expert.name, domain=expert.domain, category=expert.category, status=expert.status,
        total_params=expert.total_params, quantization=expert.quantization,
        accuracy=expert.metrics.get("accuracy", expert.metrics.get("exact")),
        inference_speed=expert.performance.get("inference_speed_tokens_per_sec"), total_calls=expert.total_calls,
        created_at=timestamp(expert.created_at))


def expert_detail(expert: ExpertRecord) -> ExpertDetail:
    return ExpertDetail(
        id=expert.id, name=expert.name, domain=expert.domain, category=expert.category, status=expert.status,
        config=expert.config, metrics=dict(expert.metrics), performance=dict(expert.performance),
        usage_stats={"total_calls": expert.total_calls, "last_used": expert.last_used},
        quantization=expert.quantization, total_params=expert.total_params, kind=expert.kind,
        current_version=expert.current_version, created_at=timestamp(expert.created_at))


@router.get("/list", summary="List experts")
async def list_experts(query: Annotated[ExpertQuery, Query()], experts: Experts) -> Envelope[ExpertPage]:
    page = await experts.list_experts(expert_filter(query))
    return ok(ExpertPage(experts=[expert_summary(e) for e in page.experts], total=page.total, limit=query.limit,
                         offset=query.offset))


@router.get("/{expert_id}", summary="One expert in detail")
async def get_expert(expert_id: ExpertId, experts: Experts) -> Envelope[ExpertDetail]:
    return ok(expert_detail(await experts.get_expert(expert_id)))


@router.post("/create", status_code=status.HTTP_201_CREATED, summary="Create an expert")
async def create_expert(body: ExpertCreate, experts: Experts) -> Envelope[ExpertCreated]:
    created = await experts.create_expert(ExpertSpec(
        name=body.name, domain=body.domain, category=body.category, size=body.size or "", d_model=body.d_model or 0,
        n_layers=body.n_layers or 0, n_heads=body.n_heads or 0, quantization=body.quantization,
        base_model=body.base_model or ""))
    return ok(ExpertCreated(
        expert_id=created.expert.id, status=created.expert.status, estimated_size_gb=created.estimated_size_gb,
        message=f"expert '{created.expert.name}' created; upload a dataset (POST /v1/datasets/upload) and start "
                "training (POST /v1/training/start) to give it a first version"))


@router.put("/{expert_id}", summary="Update an expert's metadata")
async def update_expert(expert_id: ExpertId, body: ExpertUpdate, experts: Experts) -> Envelope[ExpertDetail]:
    changes = ExpertChanges(domain=body.domain or "", category=body.category or "", status=body.status or "")
    return ok(expert_detail(await experts.update_expert(expert_id, changes)))


@router.delete("/{expert_id}", summary="Delete an expert (soft unless hard_delete)")
async def delete_expert(expert_id: ExpertId, experts: Experts, hard_delete: bool = False) -> Envelope[ExpertDeleted]:
    deleted = await experts.delete_expert(expert_id, hard_delete)
    return ok(ExpertDeleted(expert_id=deleted.expert_id, hard_delete=hard_delete, status=deleted.status))


@router.post("/{expert_id}/resize", status_code=status.HTTP_201_CREATED,
             summary="Create a new version of an expert at another size")
async def resize_expert(expert_id: ExpertId, body: ExpertResize, experts: Experts) -> Envelope[ExpertCreated]:
    started = await experts.resize_expert(expert_id, ModelShape(body.d_model, body.n_layers, body.n_heads))
    return ok(ExpertCreated(
        expert_id=started.expert_id, status="training", job_id=started.job_id,
        message=f"training job {started.job_id} trains a new version of '{started.expert_name}' from scratch at "
                f"d_model {body.d_model}, n_layers {body.n_layers}, n_heads {body.n_heads} on its latest "
                f"dataset; follow it at /v1/training/{started.job_id}/status"))
