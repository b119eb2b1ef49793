"""Seed 001's model deployment inside the Robot API's envelope: ``replicas`` are robots of the
fleet, and a deployment is a ``policy_deployment`` job of the jobs node (docs/skills.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from embodied_ai.bridge.ports.jobs import JobView
from embodied_ai.bridge.schemas.common import Strict


class DeployCheck(Strict):
    trials: int = Field(default=2, description="targets each robot must reach before the next robot (0: health only)")
    min_success_rate: float = Field(default=0.5, description="share of the trials reached to pass")
    timeout_s: float | None = Field(default=None, description="per target; default 1.5 x an episode of the task")


class DeployRequest(Strict):
    replicas: int = Field(default=1, description="how many robots run the policy")
    strategy: Literal["rolling", "all_at_once"] = "rolling"
    resources: dict[str, Any] = Field(default_factory=dict, description="seed 001's cpu/memory: recorded")
    robots: list[str] | None = Field(default=None, description="which robots (robot_1, robot_2, ...); default the "
                                                               "first `replicas` of the fleet")
    max_unavailable: int = Field(default=1, description="robots changed at a time")
    failure_threshold: int = Field(default=0, description="robots that may fail their check before a rollback")
    check: DeployCheck = DeployCheck()

    def config(self, model_id: str) -> dict[str, Any]:
        return {"model_id": model_id, **self.model_dump(exclude_none=True)}


class UndeployRequest(Strict):
    robots: list[str] | None = Field(default=None, description="which robots; default every robot that runs it")


class RobotUndeployed(BaseModel):
    robot: str
    namespace: str
    status: Literal["undeployed"] = "undeployed"


class Undeployed(BaseModel):
    model_id: str
    name: str
    robots: list[RobotUndeployed]


class DeploymentSummary(BaseModel):
    id: str = Field(description="the deployment's id: its job's, as a string")
    name: str
    namespace: str = Field(description="the fleet's: robots live under /robot_k")
    replicas: int
    strategy: str


class DeployAccepted(BaseModel):
    model_id: str
    status: Literal["deploying"] = "deploying"
    deployment: DeploymentSummary
    job_id: int
    created_at: str


class RobotDeployment(BaseModel):
    robot: str
    namespace: str
    status: str = Field(description="pending, deploying, checking, deployed, failed, rolled_back")
    previous_model_id: str | None = None
    trials: int = 0
    reached: int = 0
    reason: str = ""
    rolled_back: bool = False


class DeploymentRecord(BaseModel):
    deployment_id: str
    job_id: int
    model_id: str
    status: str = Field(description="pending, deploying, deployed, degraded (some robots failed within the "
                                    "failure threshold), rolled_back, failed, cancelled")
    reason: str = ""
    strategy: str
    replicas: int
    robots: list[RobotDeployment]
    created_at: str
    updated_at: str


def deployment_record(job: JobView) -> DeploymentRecord:
    """A ``policy_deployment`` job as its deployment record."""
    record: dict[str, Any] = job.get("progress_detail") or {}
    config, status = job["config"], str(record.get("status") or "pending")
    error = job.get("error") or {}
    if job["status"] in ("failed", "cancelled") and status not in ("rolled_back",):
        status = job["status"]
    return DeploymentRecord(
        deployment_id=str(job["id"]), job_id=int(job["id"]), model_id=str(record.get("model_id") or config["model_id"]),
        status=status, reason=str(record.get("reason") or error.get("message") or ""),
        strategy=str(config.get("strategy", "rolling")), replicas=int(config.get("replicas", 1)),
        robots=[RobotDeployment(**{k: v for k, v in r.items() if k in RobotDeployment.model_fields})
                for r in record.get("robots", [])],
        created_at=job["created_at"], updated_at=str(record.get("updated_at") or job.get("updated_at") or ""))
