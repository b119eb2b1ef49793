"""The job system as one process runs it (the ``jobs`` node): the store and runner with every job
kind, webhooks, operations logs, and the training of experts, over one state directory.

    system = JobSystem.open(JobsNodeConfig(state_dir=...))
    system.start()          # recovers what a killed process left running, then runs jobs
    ...
    system.close()

The node is wiring over this object (ROS services and actions call its services); tests drive it
without a graph. Job kinds:

    training          an expert's LoRA or from-scratch training (seed 000's Training API)
    batch_inference   many prompts through the experts, completions to a file
    pipeline          seed 004's DAG of agents, whose model agents train, evaluate, export and
                      register into the model registry (embodied_ai.pipelines.model_services)
    rl_training       a robot skill's policy (q_learning, dqn, ppo) trained in the simulator,
                      exported to ONNX with its contract and registered (embodied_ai.skills)
    rl_reconcile      a registered policy measured on fresh, perturbed episodes
    batch_processing  seed 002's batch jobs: NLP, vision or the experts over a dataset or a folder of the
                      datasets directory, one result line per item (embodied_ai.services.batch_jobs)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from embodied_ai.database import MAX_PAGE
from embodied_ai.jobs.config import JobsNodeConfig
from embodied_ai.jobs.models import Job, JobStatus
from embodied_ai.jobs.runner import JobKind, JobRunner
from embodied_ai.jobs.service import JobsService
from embodied_ai.jobs.store import JobStore

if TYPE_CHECKING:
    from embodied_ai.datasets import DatasetStore
    from embodied_ai.distributed.service import ClusterService
    from embodied_ai.experts.base_build import BuiltBase
    from embodied_ai.experts.batch_jobs import Completion, Generate
    from embodied_ai.experts.registry import ExpertRegistry
    from embodied_ai.experts.training_jobs import ExpertTraining, TrainingDatasets
    from embodied_ai.model_registry.service import ModelsService, Serving
    from embodied_ai.ops_logs import OpsLogStore
    from embodied_ai.ops_logs.buffer import LogBuffer
    from embodied_ai.skills.deployment import Fleet
    from embodied_ai.webhooks import Dispatcher, WebhookStore
    from embodied_ai.webhooks.service import WebhooksService

log = logging.getLogger(__name__)


@dataclass
class JobSystem:
    config: JobsNodeConfig
    store: JobStore
    runner: JobRunner
    jobs: JobsService
    training: ExpertTraining
    experts: ExpertRegistry
    models: ModelsService                  # the model registry as served: reads, downloads, load / unload
    datasets: DatasetStore                 # seed 000's and seed 004's uploads
    webhooks: WebhooksService
    webhook_store: WebhookStore
    dispatcher: Dispatcher
    ops_logs: OpsLogStore
    rosout: LogBuffer                      # /rosout lines, stored once a second by the caller's timer
    cluster: ClusterService                # the workers distributed jobs run on (seed 003), either backend
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(cls, config: JobsNodeConfig, base: Callable[[], BuiltBase] | None = None,
             datasets: TrainingDatasets | None = None, serving: Serving | None = None,
             generate: Generate | None = None, fleet: Fleet | None = None) -> JobSystem:
        """Everything opened on ``config``'s state directory; nothing runs until ``start``. ``base``: the
        shared base for training (default: built into the cache on the first training job, at
        ``config.base_precision``); ``datasets``: where training rows come from (default: the dataset
        registry, ``self.datasets``); ``serving``: the engine models are loaded into (the experts node;
        None: loading is refused); ``generate``: one generation by the experts, for batch inference (None:
        every prompt is refused); ``fleet``: the robots policies deploy to (the jobs node's ROS side; None:
        deployments are refused)."""
        from embodied_ai.datasets import DatasetStore
        from embodied_ai.distributed.assignments import Assignments
        from embodied_ai.distributed.cluster import ClusterSettings, RayCluster
        from embodied_ai.distributed.service import ClusterService
        from embodied_ai.distributed.training import DistributedTraining
        from embodied_ai.experts.base_build import BASE_MODEL, locate_gguf
        from embodied_ai.experts.batch_jobs import BATCH_INFERENCE_JOB, BatchInference
        from embodied_ai.experts.registry import ExpertRegistry
        from embodied_ai.experts.training_jobs import TRAINING_JOB, ExpertTraining
        from embodied_ai.model_registry import ModelRegistry, PerformanceLog
        from embodied_ai.model_registry.service import ModelsService, NoServing
        from embodied_ai.ops_logs import OpsLogStore
        from embodied_ai.ops_logs.buffer import LogBuffer
        from embodied_ai.pipelines import PIPELINE_JOB, PipelineServices, pipeline_job_kind
        from embodied_ai.pipelines.model_services import ModelBackends, model_services
        from embodied_ai.services.batch_jobs import BATCH_PROCESSING_JOB, BatchProcessing
        from embodied_ai.skills.jobs import kinds as skill_kinds
        from embodied_ai.webhooks import DEFAULT_ALLOWED_HOSTS, Dispatcher, UrlPolicy, WebhookStore
        from embodied_ai.webhooks.events import job_announcer, model_announcer
        from embodied_ai.webhooks.service import WebhooksService

        state = config.resolved_state_dir()
        state.mkdir(parents=True, exist_ok=True)
        config.datasets_dir().mkdir(parents=True, exist_ok=True)
        store = JobStore(config.database())
        experts = ExpertRegistry(state)
        dataset_store = DatasetStore(config.database(), config.datasets_dir())
        built = base or _cached_base(config.base_precision)
        assignments = Assignments(config.database())
        ray_cluster = RayCluster(ClusterSettings(address=config.ray_address)) if config.backend == "ray" else None
        cluster = ClusterService(config.backend, store, assignments, ray_cluster)
        # A version a training job registers is mirrored into the model registry at once.
        training = ExpertTraining(state, experts, built, datasets or dataset_store,
                                  on_version=lambda _expert, _version: model_service.sync(),
                                  distributed=DistributedTraining(ray_cluster, cluster.record) if ray_cluster else None)
        models = ModelRegistry(config.database(), artefact_root=state)
        performance = PerformanceLog(config.database())
        model_service = ModelsService(models, performance, experts, serving or NoServing())
        backends = ModelBackends(
            base_hf_dir=lambda: built().train_hf_dir, base_name=BASE_MODEL,
            base_inputs=lambda: set(built().lora_inputs), models=models, experts=experts, tokenizer_gguf=locate_gguf)
        services = PipelineServices(datasets_dir=config.datasets_dir(), work_root=config.work_root(),
                                    resolve_dataset=dataset_store.file, **model_services(backends))
        batch = BatchInference(config.work_root(), generate or _no_generation, lambda dataset_id: (
            dataset_store.file(dataset_id), dataset_store.get(dataset_id).analysis.get("text_column")))
        kinds: dict[str, JobKind] = {TRAINING_JOB: training.kind(), PIPELINE_JOB: pipeline_job_kind(services),
                                     BATCH_INFERENCE_JOB: batch.kind(),
                                     **skill_kinds(config.work_root(), models, fleet)}
        kinds[BATCH_PROCESSING_JOB] = BatchProcessing(
            config.work_root(), config.datasets_dir(), lambda dataset_id: (
                dataset_store.file(dataset_id), dataset_store.get(dataset_id).analysis.get("text_column")),
            generate or _no_generation).kind()
        runner = JobRunner(store, kinds, workers=config.workers, poll_s=config.poll_s)
        policy = UrlPolicy(config.allowed_hosts() or DEFAULT_ALLOWED_HOSTS)
        webhook_store = WebhookStore(config.database(), policy)
        dispatcher = Dispatcher(webhook_store, policy)
        runner.on_event(job_announcer(webhook_store, dispatcher))
        models.on_event(model_announcer(webhook_store, dispatcher))
        ops_logs = OpsLogStore(config.database())
        closers = [ops_logs.close, webhook_store.close, dataset_store.close, performance.close, models.close,
                   experts.close, assignments.close, store.close]
        if ray_cluster is not None:
            closers.insert(0, ray_cluster.close)
        return cls(config, store, runner, JobsService(store, runner), training, experts, model_service, dataset_store,
                   WebhooksService(webhook_store, dispatcher), webhook_store, dispatcher, ops_logs,
                   LogBuffer(ops_logs), cluster, closers)

    def start(self) -> list[Job]:
        """Recover jobs a killed process left running (resumed, or failed with the reason), release
        experts no job will finish training, then run jobs and deliver webhooks; returns the recovered jobs."""
        recovered = self.runner.start()
        unfinished = [*self.store.running(), *self.store.list(status=JobStatus.QUEUED, limit=MAX_PAGE)[0],
                      *self.store.list(status=JobStatus.PENDING, limit=MAX_PAGE)[0],
                      *self.store.list(status=JobStatus.PAUSED, limit=MAX_PAGE)[0]]
        for name in self.training.release_idle_experts(unfinished):
            log.warning("expert '%s' was left training by a job that will not resume: released", name)
        self.dispatcher.start()
        self.cluster.start()
        added = self.models.sync()   # expert versions registered while this process was down
        if added:
            log.info("model registry: %d expert versions mirrored", len(added))
        return recovered

    def on_event(self, listener: Callable[[Job, str], None]) -> Callable[[], None]:
        return self.runner.on_event(listener)

    def close(self, timeout_s: float = 10.0) -> bool:
        """Stop the workers (a running job is paused: resumable kinds resume at the next start) and
        close everything; False if a job did not stop in time (it is recovered at the next start)."""
        stopped = self.runner.stop(timeout=timeout_s)
        self.dispatcher.stop()
        self.cluster.stop()
        self.rosout.flush()
        for close in self._closers:
            close()
        return stopped


def _cached_base(precision: str) -> Callable[[], BuiltBase]:
    @functools.cache
    def base() -> BuiltBase:
        from embodied_ai.experts.base_build import BaseRecipe, build_base

        return build_base(BaseRecipe(precision=precision))
    return base


def _no_generation(prompt: str, expert: str, system: str, max_tokens: int, temperature: float) -> Completion:
    from embodied_ai.errors import EmbodiedError, ErrorCode

    raise EmbodiedError("no experts serve here: batch inference needs the experts node", ErrorCode.EXPERT_NOT_READY)
