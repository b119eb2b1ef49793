"""Operations API (seed 002): every node's logs, from ROS's /rosout, kept by the jobs node."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.operations import OperationsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=deps.API_PREFIX, tags=["operations"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 429, 503, 504))
Operations = Annotated[OperationsPort, Depends(deps.operations)]


@router.get("/ops/logs", summary="Every node's logs, newest first (seed 002's logs and pagination)")
async def ops_logs(
    operations: Operations,
    service: Annotated[str | None, Query(max_length=2000, description="a node, or several comma-separated")] = None,
    level: Annotated[str | None, Query(max_length=16, description="minimum: debug, info, warn, error, fatal")] = None,
    since: Annotated[str | None, Query(max_length=64, description="ISO-8601 with a time zone")] = None,
    until: Annotated[str | None, Query(max_length=64, description="ISO-8601 with a time zone (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the page before")] = None,
) -> Envelope[dict[str, Any]]:
    lines, next_cursor = await operations.logs(service, level, since, until, limit, cursor)
    return ok({"logs": lines, "pagination": {"limit": limit, "has_more": next_cursor is not None,
                                             "next_cursor": next_cursor}})
