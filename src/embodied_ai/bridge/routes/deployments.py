"""Seed 001's model deployment: a policy onto robots of the fleet, rolling (``policy_deployment``
jobs of the jobs node; the rollout itself is embodied_ai.skills.deployment)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.deployments import (
    DeployAccepted,
    DeploymentRecord,
    DeploymentSummary,
    DeployRequest,
    Undeployed,
    UndeployRequest,
    deployment_record,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphTimeout, NotFound

router = APIRouter(prefix=deps.API_PREFIX, tags=["deployments"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 409, 429, 503, 504))
Jobs = Annotated[JobsPort, Depends(deps.jobs)]
ModelKey = Annotated[str, Path(min_length=1, max_length=200, description="the policy: id, name:N or a name")]
DeploymentId = Annotated[str, Path(pattern=r"^[0-9]{1,18}$", description="the deployment's id (its job's)")]
POLICY_DEPLOYMENT, POLICY_UNDEPLOYMENT = "policy_deployment", "policy_undeployment"
UNDEPLOY_WAIT_S = 60.0   # each robot's policy node deactivates and cleans up at once


@router.post("/models/{model}/deploy", status_code=202, summary="Deploy a policy to robots of the fleet (seed 001)")
async def deploy(model: ModelKey, body: DeployRequest, jobs: Jobs) -> Envelope[DeployAccepted]:
    """Refused at once (nothing moves) for a model that is no policy, a contract that does not fit the
    robots, too few robots, or a robot in e-stop; else the rollout runs as a job: follow it at
    ``GET /v1/deployments/{id}`` (per-robot status) or ``GET /v1/jobs/{id}``."""
    job = await jobs.submit(POLICY_DEPLOYMENT, body.config(model), 0, None)
    summary = DeploymentSummary(id=str(job["id"]), name=f"{model}-{job['id']}", namespace="/",
                                replicas=body.replicas, strategy=body.strategy)
    return ok(DeployAccepted(model_id=model, deployment=summary, job_id=int(job["id"]), created_at=job["created_at"]))


@router.post("/models/{model}/undeploy", summary="Stop a policy on the robots that run it")
async def undeploy(model: ModelKey, jobs: Jobs, body: UndeployRequest | None = None) -> Envelope[Undeployed]:
    """Each robot's policy node is deactivated and cleaned up (its controller's watchdog then holds the
    joints); 409 when no robot (or a named one) runs it."""
    config = {"model_id": model, **((body or UndeployRequest()).model_dump(exclude_none=True))}
    job = await jobs.submit(POLICY_UNDEPLOYMENT, config, 0, None)
    deadline = time.monotonic() + UNDEPLOY_WAIT_S
    while job["status"] not in ("completed", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise GraphTimeout(f"undeployment {job['id']} did not end within {UNDEPLOY_WAIT_S:.0f} s")
        await asyncio.sleep(0.2)
        job = await jobs.get(int(job["id"]))
    if job["status"] != "completed":
        error = job.get("error") or {}
        raise EmbodiedError(str(error.get("message") or f"undeployment {job['status']}"), ErrorCode.CONFLICT)
    return ok(Undeployed.model_validate(job["result"]))


@router.get("/deployments/{deployment_id}", summary="A deployment's record: its status and each robot's")
async def get_deployment(deployment_id: DeploymentId, jobs: Jobs) -> Envelope[DeploymentRecord]:
    job = await jobs.get(int(deployment_id))
    if job["type"] != POLICY_DEPLOYMENT:
        raise NotFound(f"{deployment_id} is a {job['type']} job, not a deployment")
    return ok(deployment_record(job))
