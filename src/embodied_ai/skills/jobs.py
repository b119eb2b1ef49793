"""The skills' job kinds for the job system: ``rl_training`` (train, export and register a policy),
``rl_reconcile`` (a registered policy, nominal and perturbed) and ``policy_deployment`` (a policy
onto robots of the fleet, rolling).

The kinds' bodies are built on first use: naming the kinds (the jobs node at its start) loads
neither Gymnasium nor the simulator (~0.5 s and ~50 MB), only a skill's job does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embodied_ai.jobs.runner import JobKind

if TYPE_CHECKING:
    from embodied_ai.model_registry.store import ModelRegistry
    from embodied_ai.skills.deployment import Fleet, PolicyDeployment
    from embodied_ai.skills.reconcile import PolicyReconcile
    from embodied_ai.skills.training import PolicyTraining

RL_TRAINING_JOB = "rl_training"
RL_RECONCILE_JOB = "rl_reconcile"
POLICY_DEPLOYMENT_JOB = "policy_deployment"
POLICY_UNDEPLOYMENT_JOB = "policy_undeployment"


def kinds(work_root: Path, registry: ModelRegistry, fleet: Fleet | None = None) -> dict[str, JobKind]:
    """The kinds: training writes into ``work_root / job-<id>/``; policies go to ``registry``; a
    deployment drives ``fleet`` (None: this job system has no robots, deployments are refused)."""
    @functools.cache
    def training() -> PolicyTraining:
        from embodied_ai.skills.training import PolicyTraining

        return PolicyTraining(work_root, registry)

    @functools.cache
    def reconcile() -> PolicyReconcile:
        from embodied_ai.skills.reconcile import PolicyReconcile

        return PolicyReconcile(registry)

    @functools.cache
    def deployment() -> PolicyDeployment:
        from embodied_ai.skills.deployment import PolicyDeployment

        return PolicyDeployment(registry, fleet)

    def describe(job: Any, finished: Any) -> dict[str, Any]:
        describe_training = training().kind().describe
        return describe_training(job, finished) if describe_training is not None else {}

    return {RL_TRAINING_JOB: JobKind(run=lambda ctx: training().run(ctx), resumable=True,
                                     validate=lambda config: training().validate(config), describe=describe),
            RL_RECONCILE_JOB: JobKind(run=lambda ctx: reconcile().run(ctx), resumable=True,
                                      validate=lambda config: reconcile().validate(config)),
            # Not resumable: robots a killed deployment changed stay as its record last said.
            POLICY_DEPLOYMENT_JOB: JobKind(run=lambda ctx: deployment().run(ctx), resumable=False,
                                           validate=lambda config: deployment().validate(config),
                                           describe=lambda job, finished: deployment().describe(job, finished)),
            POLICY_UNDEPLOYMENT_JOB: JobKind(run=lambda ctx: deployment().undeploy(ctx), resumable=True,
                                             validate=lambda config: deployment().validate_undeploy(config))}
