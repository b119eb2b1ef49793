"""Expert Management API, over the experts node's registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.port import RobotGraph
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.experts import (ExpertCreate, ExpertCreated, ExpertDeleted, ExpertDetail,
                                                ExpertPage, ExpertQuery, ExpertResize, ExpertUpdate)
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=f"{deps.API_PREFIX}/experts", tags=["experts"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 422, 429, 503, 504))
Graph = Annotated[RobotGraph, Depends(deps.graph)]
ExpertId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
                               description="the expert's id (or its name)")]


@router.get("/list", summary="List experts")
async def list_experts(query: Annotated[ExpertQuery, Query()], graph: Graph) -> Envelope[ExpertPage]:
    return ok(await graph.list_experts(query))


@router.get("/{expert_id}", summary="One expert in detail")
async def get_expert(expert_id: ExpertId, graph: Graph) -> Envelope[ExpertDetail]:
    return ok(await graph.get_expert(expert_id))


@router.post("/create", status_code=status.HTTP_201_CREATED, summary="Create an expert")
async def create_expert(body: ExpertCreate, graph: Graph) -> Envelope[ExpertCreated]:
    return ok(await graph.create_expert(body))


@router.put("/{expert_id}", summary="Update an expert's metadata")
async def update_expert(expert_id: ExpertId, body: ExpertUpdate, graph: Graph) -> Envelope[ExpertDetail]:
    return ok(await graph.update_expert(expert_id, body))


@router.delete("/{expert_id}", summary="Delete an expert (soft unless hard_delete)")
async def delete_expert(expert_id: ExpertId, graph: Graph, hard_delete: bool = False) -> Envelope[ExpertDeleted]:
    return ok(await graph.delete_expert(expert_id, hard_delete))


@router.post("/{expert_id}/resize", status_code=status.HTTP_201_CREATED,
             summary="Create a new version of an expert at another size")
async def resize_expert(expert_id: ExpertId, body: ExpertResize, graph: Graph) -> Envelope[ExpertCreated]:
    return ok(await graph.resize_expert(expert_id, body))
