"""Python SDK for the REST bridge (the Robot API's "SDK Examples", and model operations):

    from embodied_ai import Client

    client = Client(api_key="emb_...")            # base_url defaults to http://localhost:8000
    experts = client.experts.list(category="programming")
    result = client.inference.generate(prompt="Write Rust code", max_tokens=100)
    print(result.text)
    for token in client.inference.stream(prompt="Count to five"):
        print(token, end="")
    client.hardware.move("shoulder_pitch_r", 45.0, duration_ms=1000)
    dataset = client.datasets.upload("training_data.csv")    # seed 004 (expert_id=...: seed 000)
    job = client.jobs.submit(pipeline_config={...})          # seed 004
    for line in client.logs.stream(job.job_id):
        print(line.agent, line.message)
    client.models.download("kitchen", format="onnx_adapter", dest=".")   # seed 004 (load / unload: seed 002)

Answers are the bridge's own pydantic models (``embodied_ai.bridge.schemas``), unwrapped from
the envelope; an error envelope raises ``ApiError``. 429 and 503 (and a refused connection)
are retried with back-off, honouring Retry-After: both mean the request was not carried out.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import httpx
from httpx_sse import connect_sse
from pydantic import TypeAdapter
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from embodied_ai.bridge.schemas.ai_llm import LlmChatReply, LlmGenerated, LlmModels
from embodied_ai.bridge.schemas.ai_vision import VisionAnalysis, VisionClassification
from embodied_ai.bridge.schemas.auth import AccessToken, LoggedOut
from embodied_ai.bridge.schemas.clients import ClientData, ClientList, ClusterTaskMetrics
from embodied_ai.bridge.schemas.datasets import DatasetData, DatasetList, DatasetPreview
from embodied_ai.bridge.schemas.deployments import DeployAccepted, DeploymentRecord, Undeployed
from embodied_ai.bridge.schemas.experts import ExpertCreated, ExpertDeleted, ExpertDetail, ExpertPage
from embodied_ai.bridge.schemas.hardware import EmergencyStopResult, GraspResult, Sensors, ServoMoved
from embodied_ai.bridge.schemas.inference import BatchResults, Generated, StreamToken
from embodied_ai.bridge.schemas.jobs import JobData, JobList, LogHistory, LogLine
from embodied_ai.bridge.schemas.models import ModelCatalog, ModelData, ModelLoaded, ModelMetrics, ModelPerformance
from embodied_ai.bridge.schemas.monitoring import Health, Metrics, MetricsHistory
from embodied_ai.bridge.schemas.multimodal import Detections, MultimodalResult, Transcription
from embodied_ai.bridge.schemas.nlp import SummaryMethod, SummaryResult, TextAnalysisResult
from embodied_ai.bridge.schemas.ops import OpsService, OpsStatus, ServiceControlled
from embodied_ai.bridge.schemas.rl_training import Reconciled, TaskCancelled, TaskCreated, TaskStatus
from embodied_ai.bridge.schemas.router import Routed, RouterStats
from embodied_ai.bridge.schemas.system_health import ComprehensiveHealth
from embodied_ai.bridge.schemas.tasks import (
    TrainingTaskCreated,
    TrainingTaskDetail,
    TrainingTaskList,
    TrainingTaskStatusChanged,
)
from embodied_ai.bridge.schemas.training import TrainingJob, TrainingStatus, TrainingStopped
from embodied_ai.bridge.schemas.webhooks import DeliveryData, DeliveryList, WebhookData, WebhookList
from embodied_ai.sdk.errors import ApiError

T = TypeVar("T")
ENDED = {"completed", "failed", "cancelled"}
RETRY_STATUSES = {429, 503}
DEFAULT_BASE_URL = "http://localhost:8000"
FileInput = bytes | str | Path


def _retryable(error: BaseException) -> bool:
    return isinstance(error, httpx.ConnectError) or (isinstance(error, ApiError) and error.status in RETRY_STATUSES)


class _WaitRetryAfter:
    """Wait what the server's Retry-After says, else exponential back-off with jitter."""

    def __init__(self, max_wait_s: float) -> None:
        self._fallback = wait_exponential_jitter(multiplier=0.5, max=max_wait_s)
        self._max = max_wait_s

    def __call__(self, state: Any) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ApiError) and error.retry_after is not None:
            return min(float(error.retry_after), self._max)
        return self._fallback(state)


def _file(value: FileInput, name: str) -> tuple[str, bytes]:
    if isinstance(value, bytes):
        return name, value
    path = Path(value)
    return path.name, path.read_bytes()


class Client:
    def __init__(self, api_key: str | None = None, base_url: str = DEFAULT_BASE_URL, timeout: float = 120.0,
                 max_retries: int = 4, max_retry_wait_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)
        self._max_retries, self._max_retry_wait_s = max_retries, max_retry_wait_s
        self.experts = Experts(self)
        self.inference = Inference(self)
        self.llm = Llm(self)   # seed 002's /v1/ai/llm
        self.nlp = Nlp(self)   # seed 002's /v1/ai/nlp
        self.router = Router(self)
        self.datasets = Datasets(self)
        self.training = Training(self)
        self.vision = Vision(self)
        self.audio = Audio(self)
        self.multimodal = Multimodal(self)
        self.hardware = Hardware(self)
        self.monitoring = Monitoring(self)
        self.jobs = Jobs(self)
        self.cluster = Cluster(self)   # seed 003's tasks, clients and task metrics
        self.logs = Logs(self)
        self.webhooks = Webhooks(self)
        self.ops = Operations(self)
        self.models = Models(self)
        self.auth = Auth(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing -----------------------------------------------------------------------------
    def retrying(self) -> Retrying:
        """A fresh retry loop: refused connections, 429 and 503 again, honouring Retry-After."""
        return Retrying(retry=retry_if_exception(_retryable), stop=stop_after_attempt(self._max_retries + 1),
                        wait=_WaitRetryAfter(self._max_retry_wait_s), reraise=True)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in self.retrying():
            with attempt:
                response = self._http.request(method, path, **kwargs)
                if response.status_code >= 400:
                    raise ApiError.from_response(response)
                return response
        raise AssertionError("unreachable: tenacity reraises the last error")

    def request(self, method: str, path: str, data_type: type[T], **kwargs: Any) -> T:
        """One call; returns the envelope's ``data`` as ``data_type``."""
        body = self._send(method, path, **kwargs).json()
        return TypeAdapter(data_type).validate_python(body["data"])

    def health(self) -> Health:
        response = self._http.get("/v1/health")  # 503 carries a Health body too
        return Health.model_validate(response.json())


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client


class Experts(_Resource):
    def list(self, category: str | None = None, status: str | None = None, sort_by: str = "name",
             limit: int = 50, offset: int = 0) -> ExpertPage:
        params = {k: v for k, v in dict(category=category, status=status, sort_by=sort_by, limit=limit,
                                          offset=offset).items() if v is not None}
        return self._client.request("GET", "/v1/experts/list", ExpertPage, params=params)

    def get(self, expert_id: int | str) -> ExpertDetail:
        return self._client.request("GET", f"/v1/experts/{expert_id}", ExpertDetail)

    def create(self, name: str, domain: str, category: str = "general", size: str | None = None,
               **config: Any) -> ExpertCreated:
        """``size`` ("small" | "medium" | "large") or d_model / n_layers / n_heads / quantization / base_model."""
        body = {"name": name, "domain": domain, "category": category, "size": size, **config}
        return self._client.request("POST", "/v1/experts/create", ExpertCreated, json=body)

    def update(self, expert_id: int | str, **changes: Any) -> ExpertDetail:
        return self._client.request("PUT", f"/v1/experts/{expert_id}", ExpertDetail, json=changes)

    def delete(self, expert_id: int | str, hard_delete: bool = False) -> ExpertDeleted:
        return self._client.request("DELETE", f"/v1/experts/{expert_id}", ExpertDeleted,
                                    params={"hard_delete": str(hard_delete).lower()})

    def resize(self, expert_id: int | str, d_model: int, n_layers: int, n_heads: int) -> ExpertCreated:
        return self._client.request("POST", f"/v1/experts/{expert_id}/resize", ExpertCreated,
                                    json={"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads})


class TokenStream:
    """Iterate for the tokens as they are generated; ``result`` holds the final answer after."""

    def __init__(self, client: Client, body: dict[str, Any]) -> None:
        self._client, self._body = client, body
        self.result: Generated | None = None

    def __iter__(self) -> Iterator[str]:
        with ExitStack() as stack:
            # Retries happen only until the stream is open: once tokens flow, the generation ran.
            for attempt in self._client.retrying():
                with attempt:
                    opening = ExitStack()
                    source = opening.enter_context(
                        connect_sse(self._client._http, "POST", "/v1/inference/generate/stream", json=self._body))
                    if source.response.status_code >= 400:
                        source.response.read()
                        opening.close()
                        raise ApiError.from_response(source.response)
                    stack.push(opening)
            for event in source.iter_sse():
                if event.event == "done":
                    self.result = Generated.model_validate_json(event.data)
                elif event.event == "error":
                    raise ApiError.from_body(200, event.json())
                else:
                    yield StreamToken.model_validate_json(event.data).token


class Inference(_Resource):
    @staticmethod
    def _body(prompt: str, expert_id: int | str | None, max_tokens: int | None, temperature: float, top_p: float,
              stop_sequences: list[str] | None) -> dict[str, Any]:
        return {"prompt": prompt, "expert_id": expert_id, "max_tokens": max_tokens, "temperature": temperature,
                "top_p": top_p, "stop_sequences": stop_sequences or []}

    def generate(self, prompt: str, expert_id: int | str | None = None, max_tokens: int | None = None,
                 temperature: float = 0.0, top_p: float = 1.0, stop_sequences: list[str] | None = None) -> Generated:
        body = self._body(prompt, expert_id, max_tokens, temperature, top_p, stop_sequences)
        return self._client.request("POST", "/v1/inference/generate", Generated, json=body)

    def stream(self, prompt: str, expert_id: int | str | None = None, max_tokens: int | None = None,
               temperature: float = 0.0, top_p: float = 1.0, stop_sequences: list[str] | None = None) -> TokenStream:
        return TokenStream(self._client, self._body(prompt, expert_id, max_tokens, temperature, top_p, stop_sequences))

    def batch(self, requests: list[dict[str, Any]], max_tokens: int | None = None) -> BatchResults:
        return self._client.request("POST", "/v1/inference/batch", BatchResults,
                                    json={"requests": requests, "max_tokens": max_tokens})


class Llm(_Resource):
    """Seed 002's LLM service: the experts (``model`` an expert's name, or ``auto``: the router chooses)."""

    def generate(self, prompt: str, model: str = "auto", max_tokens: int | None = None, temperature: float = 0.0,
                 system: str = "", **parameters: Any) -> LlmGenerated:
        """``parameters``: seed 002's ``top_p``, ``stop`` (and penalties, only 0)."""
        body = {"prompt": prompt, "model": model, "max_tokens": max_tokens, "temperature": temperature,
                "system": system, "parameters": parameters}
        return self._client.request("POST", "/v1/ai/llm/generate", LlmGenerated, json=body)

    def chat(self, messages: list[dict[str, str]], model: str = "auto", max_tokens: int | None = None,
             temperature: float = 0.0, top_p: float | None = None, stop: list[str] | None = None) -> LlmChatReply:
        """``messages``: ``[{"role": "system" | "user" | "assistant", "content": ...}]``."""
        body = {"messages": messages, "model": model, "max_tokens": max_tokens, "temperature": temperature,
                "top_p": top_p, "stop": stop or []}
        return self._client.request("POST", "/v1/ai/llm/chat", LlmChatReply, json=body)

    def models(self) -> LlmModels:
        return self._client.request("GET", "/v1/ai/llm/models", LlmModels)


class Router(_Resource):
    def stats(self) -> RouterStats:
        return self._client.request("GET", "/v1/router/stats", RouterStats)

    def route(self, prompt: str) -> Routed:
        return self._client.request("POST", "/v1/router/route", Routed, json={"prompt": prompt})

    def retrain(self, training_data_path: str, num_epochs: int = 10) -> dict[str, Any]:
        return self._client.request("POST", "/v1/router/retrain", dict,
                                    json={"training_data_path": training_data_path, "num_epochs": num_epochs})


class Datasets(_Resource):
    def upload(self, file: FileInput, name: str | None = None, expert_id: int | str | None = None,
               description: str | None = None, format: str | None = None) -> DatasetData:
        """A CSV, JSON, JSONL, Parquet or TXT file (a path, or the bytes of a .jsonl file); with ``expert_id``
        (seed 000) its rows must be training rows. The answer has both seeds' fields and the ``analysis``."""
        form = {"name": name, "expert_id": None if expert_id is None else str(expert_id), "description": description,
                "format": format}
        return self._client.request("POST", "/v1/datasets/upload", DatasetData,
                                    files={"file": _file(file, "dataset.jsonl")},
                                    data={k: v for k, v in form.items() if v is not None})

    def get(self, dataset_id: int) -> DatasetData:
        return self._client.request("GET", f"/v1/datasets/{dataset_id}", DatasetData)

    def preview(self, dataset_id: int, limit: int = 10) -> DatasetPreview:
        """The first ``limit`` rows (1-100) and how many rows there are."""
        return self._client.request("GET", f"/v1/datasets/{dataset_id}/preview", DatasetPreview,
                                    params={"limit": limit})

    def list(self, limit: int = 50, offset: int = 0) -> DatasetList:
        return self._client.request("GET", "/v1/datasets", DatasetList, params={"limit": limit, "offset": offset})


class Training(_Resource):
    def start(self, expert_id: int, dataset_id: int, **options: Any) -> TrainingJob:
        return self._client.request("POST", "/v1/training/start", TrainingJob,
                                    json={"expert_id": expert_id, "dataset_id": dataset_id, **options})

    def status(self, job_id: int) -> TrainingStatus:
        return self._client.request("GET", f"/v1/training/{job_id}/status", TrainingStatus)

    def stop(self, job_id: int) -> TrainingStopped:
        return self._client.request("POST", f"/v1/training/{job_id}/stop", TrainingStopped)

    # Seed 001: reinforcement-learning tasks (a robot skill's policy).
    def create(self, name: str, model_type: str, total_episodes: int, parameters: dict[str, Any] | None = None,
               **options: Any) -> TaskCreated:
        """A training task (q_learning, dqn, ppo); ``options``: wandb_project, wandb_run_name, env, env_config, seed."""
        return self._client.request("POST", "/v1/training", TaskCreated, json={
            "name": name, "model_type": model_type, "total_episodes": total_episodes,
            "parameters": parameters or {}, **options})

    def get(self, task_id: str | int) -> TaskStatus:
        return self._client.request("GET", f"/v1/training/{task_id}", TaskStatus)

    def cancel(self, task_id: str | int) -> TaskCancelled:
        return self._client.request("POST", f"/v1/training/{task_id}/cancel", TaskCancelled)

    def reconcile(self, task_id: str | int, sample_size: int, group_id: str | None = None) -> Reconciled:
        params: dict[str, Any] = {"sample_size": sample_size, **({"group_id": group_id} if group_id else {})}
        return self._client.request("POST", f"/v1/training/{task_id}/reconcile", Reconciled, params=params)


class Vision(_Resource):
    def detect(self, image: FileInput) -> Detections:
        return self._client.request("POST", "/v1/vision/detect", Detections, files={"image": _file(image, "image")})

    def analyze(self, image: FileInput | None = None, analysis_type: list[str] | None = None,
                camera: str | None = None) -> VisionAnalysis:
        """Seed 002's ``/v1/ai/vision/analyze`` on an image file or bytes, or on ``camera``'s latest frame.
        ``analysis_type``: any of object_detection, scene_analysis, text_extraction (None: object_detection)."""
        form: dict[str, Any] = {"camera": camera} if camera else {}
        if analysis_type is not None:
            form["analysis_type"] = analysis_type
        return self._client.request("POST", "/v1/ai/vision/analyze", VisionAnalysis, data=form,
                                    files={"image": _file(image, "image")} if image is not None else None)

    def classify(self, image: FileInput | None = None, top_k: int = 5, camera: str | None = None,
                 model: str | None = None) -> VisionClassification:
        """Seed 002's ``/v1/ai/vision/classify``: the ``top_k`` (1..100) most probable ImageNet classes."""
        form: dict[str, Any] = {"top_k": top_k, **({"camera": camera} if camera else {}),
                                **({"model": model} if model else {})}
        return self._client.request("POST", "/v1/ai/vision/classify", VisionClassification, data=form,
                                    files={"image": _file(image, "image")} if image is not None else None)


class Audio(_Resource):
    def transcribe(self, audio: FileInput, language: str = "") -> Transcription:
        return self._client.request("POST", "/v1/audio/transcribe", Transcription,
                                    files={"audio": _file(audio, "audio")}, data={"language": language})

    def synthesize(self, text: str, voice: str = "default", speed: float = 1.0) -> bytes:
        """The WAV file's bytes."""
        return self._client._send("POST", "/v1/audio/synthesize",
                                  json={"text": text, "voice": voice, "speed": speed}).content


class Multimodal(_Resource):
    def process(self, text: str | None = None, image: FileInput | None = None,
                audio: FileInput | None = None) -> MultimodalResult:
        files = {}
        if image is not None:
            files["image"] = _file(image, "image")
        if audio is not None:
            files["audio"] = _file(audio, "audio")
        return self._client.request("POST", "/v1/multimodal/process", MultimodalResult,
                                    data={"text": text} if text else {}, files=files or None)


class Hardware(_Resource):
    def move(self, joint_name: str, angle: float, duration_ms: int | None = None, relative: bool = False) -> ServoMoved:
        """Move one joint to ``angle`` degrees (or by it, with relative=True)."""
        return self._client.request("POST", "/v1/hardware/servo/move", ServoMoved, json={
            "joint_name": joint_name, "angle": angle, "duration_ms": duration_ms, "relative": relative})

    def grasp(self, force: float, object_id: int | None = None, side: str | None = None) -> GraspResult:
        return self._client.request("POST", "/v1/hardware/grasp", GraspResult,
                                    json={"force": force, "object_id": object_id, "side": side})

    def sensors(self) -> Sensors:
        return self._client.request("GET", "/v1/hardware/sensors", Sensors)

    def emergency_stop(self) -> EmergencyStopResult:
        return self._client.request("POST", "/v1/hardware/emergency_stop", EmergencyStopResult)

    def reset_emergency_stop(self) -> EmergencyStopResult:
        return self._client.request("POST", "/v1/hardware/emergency_stop/reset", EmergencyStopResult)


class Monitoring(_Resource):
    def metrics(self) -> Metrics:
        return self._client.request("GET", "/v1/monitoring/metrics", Metrics)

    def history(self, start_time: str | None = None, end_time: str | None = None,
                interval: str = "1m") -> MetricsHistory:
        """Seed 001's system metrics: CPU and memory use per ``interval`` (1m, 5m, 1h) between ISO-8601 times
        (default: the last 60 intervals), and the training jobs' figures (None while the jobs node is away)."""
        params = {"start_time": start_time, "end_time": end_time, "interval": interval}
        return self._client.request("GET", "/v1/metrics", MetricsHistory,
                                    params={k: v for k, v in params.items() if v is not None})

    def health(self) -> Health:
        return self._client.health()

    def comprehensive(self) -> ComprehensiveHealth:
        """Seed 002's detailed health: the machine, the jobs node's database, the model files, the components."""
        return self._client.request("GET", "/v1/health/comprehensive", ComprehensiveHealth)


class Jobs(_Resource):
    def submit(self, pipeline_config: dict[str, Any] | None = None, type: str | None = None,
               parameters: dict[str, Any] | None = None, name: str | None = None, priority: int | str = "normal",
               scheduled_at: str | None = None) -> JobData:
        """A pipeline (``pipeline_config``, seed 004) or a job of another ``type`` with its ``parameters``."""
        body = {"pipeline_config": pipeline_config, "type": type, "parameters": parameters, "name": name,
                "priority": priority, "scheduled_at": scheduled_at}
        return self._client.request("POST", "/v1/jobs", JobData, json={k: v for k, v in body.items() if v is not None})

    def get(self, job_id: int) -> JobData:
        return self._client.request("GET", f"/v1/jobs/{job_id}", JobData)

    def list(self, status: str | None = None, type: str | None = None, limit: int = 50, offset: int = 0) -> JobList:
        params = {"status": status, "type": type, "limit": limit, "offset": offset}
        return self._client.request("GET", "/v1/jobs", JobList,
                                    params={k: v for k, v in params.items() if v is not None})

    def cancel(self, job_id: int) -> JobData:
        return self._client.request("DELETE", f"/v1/jobs/{job_id}", JobData)

    def results(self, job_id: int) -> builtins.list[dict[str, Any]]:
        """A completed batch job's results, one object per item (``GET /v1/jobs/{id}/results``)."""
        response = self._client._send("GET", f"/v1/jobs/{job_id}/results")
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def wait(self, job_id: int, timeout_s: float = 600.0, poll_s: float = 0.5) -> JobData:
        """The job once it has ended (TimeoutError if it has not within ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while (job := self.get(job_id)).status not in ENDED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.status} after {timeout_s:g} s")
            time.sleep(poll_s)
        return job


class Cluster(_Resource):
    """Seed 003's distributed training: tasks (training jobs), the cluster's workers (clients) and a
    task's metrics."""

    def tasks(self, status: str | None = None, page: int = 1, limit: int = 10) -> TrainingTaskList:
        """Training tasks, newest first; ``status`` in seed 003's names (pending, running, paused, completed,
        failed, stopped)."""
        params = {"status": status, "page": page, "limit": limit}
        return self._client.request("GET", "/v1/tasks", TrainingTaskList,
                                    params={k: v for k, v in params.items() if v is not None})

    def create_task(self, name: str, type: str = "training", **fields: Any) -> TrainingTaskCreated:
        """A training task of the expert ``name``; ``fields`` are seed 003's (url, version, batch_size,
        learning_rate, epochs, distributed, requirements, n_clients) and dataset_id, max_steps."""
        return self._client.request("POST", "/v1/tasks", TrainingTaskCreated,
                                    json={"type": type, "name": name, **fields})

    def task(self, task_id: str | int) -> TrainingTaskDetail:
        return self._client.request("GET", f"/v1/tasks/{task_id}", TrainingTaskDetail)

    def set_task_status(self, task_id: str | int, status: str, reason: str = "") -> TrainingTaskStatusChanged:
        """``paused``, ``running`` (resume) or ``stopped``."""
        return self._client.request("PUT", f"/v1/tasks/{task_id}/status", TrainingTaskStatusChanged,
                                    json={"status": status, "reason": reason})

    def pause_task(self, task_id: str | int, reason: str = "") -> TrainingTaskStatusChanged:
        return self.set_task_status(task_id, "paused", reason)

    def resume_task(self, task_id: str | int, reason: str = "") -> TrainingTaskStatusChanged:
        return self.set_task_status(task_id, "running", reason)

    def stop_task(self, task_id: str | int, reason: str = "") -> TrainingTaskStatusChanged:
        return self.set_task_status(task_id, "stopped", reason)

    def delete_task(self, task_id: str | int) -> None:
        """Stops the task unless it has ended."""
        self._client._send("DELETE", f"/v1/tasks/{task_id}")

    def clients(self, page: int = 1, limit: int = 100) -> ClientList:
        return self._client.request("GET", "/v1/clients", ClientList, params={"page": page, "limit": limit})

    def client(self, client_id: str) -> ClientData:
        return self._client.request("GET", f"/v1/clients/{client_id}", ClientData)

    def task_metrics(self, task_id: str | int) -> ClusterTaskMetrics:
        return self._client.request("GET", f"/v1/metrics/tasks/{task_id}", ClusterTaskMetrics)


class Logs(_Resource):
    def history(self, run_id: int, limit: int = 100, after: int = 0) -> LogHistory:
        return self._client.request("GET", f"/v1/logs/history/{run_id}", LogHistory,
                                    params={"limit": limit, "after": after})

    def stream(self, run_id: int, last_event_id: int = 0) -> Iterator[LogLine]:
        """The job's log lines as they come, until it ends; reconnects resume after the last line seen."""
        seen = last_event_id
        for attempt in self._client.retrying():
            with attempt:
                headers = {"Last-Event-ID": str(seen)} if seen else {}
                with connect_sse(self._client._http, "GET", f"/v1/logs/stream/{run_id}", headers=headers) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        raise ApiError.from_response(source.response)
                    for event in source.iter_sse():
                        if event.event == "end":
                            return
                        if event.event == "error":
                            raise ApiError.from_body(200, event.json())
                        line = LogLine.model_validate_json(event.data)
                        seen = line.seq
                        yield line


class Webhooks(_Resource):
    def register(self, url: str, events: list[str], secret: str | None = None, description: str = "") -> WebhookData:
        """The new webhook; its ``secret`` is in this answer only."""
        body = {"url": url, "events": events, "secret": secret, "description": description}
        return self._client.request("POST", "/v1/webhooks", WebhookData,
                                    json={k: v for k, v in body.items() if v is not None})

    def list(self) -> WebhookList:
        return self._client.request("GET", "/v1/webhooks", WebhookList)

    def delete(self, webhook_id: str) -> None:
        self._client._send("DELETE", f"/v1/webhooks/{webhook_id}")

    def deliveries(self, webhook_id: str, limit: int = 50, offset: int = 0) -> DeliveryList:
        return self._client.request("GET", f"/v1/webhooks/{webhook_id}/deliveries", DeliveryList,
                                    params={"limit": limit, "offset": offset})

    def redeliver(self, delivery_id: str) -> DeliveryData:
        return self._client.request("POST", f"/v1/webhooks/deliveries/{delivery_id}/redeliver", DeliveryData)


class Operations(_Resource):
    def logs(self, service: str | None = None, level: str | None = None, since: str | None = None,
             until: str | None = None, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """Seed 002's ``{logs, pagination}``: every node's log lines, newest first."""
        params = {"service": service, "level": level, "since": since, "until": until, "limit": limit, "cursor": cursor}
        return self._client.request("GET", "/v1/ops/logs", dict[str, Any],
                                    params={k: v for k, v in params.items() if v is not None})

    def status(self) -> OpsStatus:
        """Seed 002's system status: health, uptime, jobs, resource use and alerts."""
        return self._client.request("GET", "/v1/ops/status", OpsStatus)

    def services(self) -> list[OpsService]:
        """Seed 002's services: each node of the graph, its process's state and its health."""
        return self._client.request("GET", "/v1/ops/services", list[OpsService])

    def start(self, name: str, wait_for_health: bool = True, timeout_s: float = 60.0) -> ServiceControlled:
        """Start the process of node ``name`` (every node it hosts); with ``wait_for_health``, answered once they
        are healthy or after ``timeout_s`` (``healthy`` says which)."""
        return self._control(name, "start", wait_for_health, False, timeout_s)

    def stop(self, name: str, wait_for_health: bool = True, force: bool = False) -> ServiceControlled:
        """Stop the process of node ``name`` until started again (``force``: SIGKILL at once); 409 for the
        servo controller while the robot moves. ``wait_for_health`` has nothing to wait for here."""
        return self._control(name, "stop", wait_for_health, force, 60.0)

    def restart(self, name: str, wait_for_health: bool = True, force: bool = False,
                timeout_s: float = 60.0) -> ServiceControlled:
        """Stop and start the process of node ``name``, as stop() then start()."""
        return self._control(name, "restart", wait_for_health, force, timeout_s)

    def _control(self, name: str, action: str, wait_for_health: bool, force: bool,
                 timeout_s: float) -> ServiceControlled:
        return self._client.request("POST", f"/v1/ops/services/{name}/{action}", ServiceControlled,
                                    json={"force": force, "wait_for_health": wait_for_health, "timeout_s": timeout_s})


class Models(_Resource):
    """The model registry (seeds 004, 002 and 001): trained versions, their exports, loading them to serve."""

    def list(self, kind: str | None = None, status: str | None = None, name: str | None = None,
             base_model: str | None = None, limit: int = 20, offset: int = 0) -> ModelCatalog:
        """The registry's versions (``total``, ``has_more``); unfiltered, the first page starts with the names chat
        completions accept (``auto``, the experts)."""
        params = {"kind": kind, "status": status, "name": name, "base_model": base_model, "limit": limit,
                  "offset": offset}
        response = self._client._send("GET", "/v1/models", params={k: v for k, v in params.items() if v is not None})
        return ModelCatalog.model_validate(response.json())

    def get(self, model: str) -> ModelData:
        """By id (``mdl_...``), ``name:N`` or name (its newest version)."""
        return self._client.request("GET", f"/v1/models/{model}", ModelData)

    def card(self, model: str) -> str:
        """The model card (Markdown)."""
        return self._client._send("GET", f"/v1/models/{model}/card", headers={"Accept": "text/markdown"}).text

    def metrics(self, model: str, start_time: str | None = None, end_time: str | None = None,
                interval: str = "1m") -> ModelMetrics:
        """Serving figures per ``interval`` (1m, 5m, 1h) between ISO-8601 times (default: the last 60 intervals)."""
        params = {"start_time": start_time, "end_time": end_time, "interval": interval}
        return self._client.request("GET", f"/v1/models/{model}/metrics", ModelMetrics,
                                    params={k: v for k, v in params.items() if v is not None})

    def performance(self, model: str) -> ModelPerformance:
        return self._client.request("GET", f"/v1/models/{model}/performance", ModelPerformance)

    def download(self, model: str, format: str | None = None, dest: str | Path = ".") -> Path:
        """Save an export (its file, or a folder's files as a tar) as ``dest``, or in ``dest`` under the server's
        file name when it is a folder; returns the path. A file's bytes are checked against its recorded sha256;
        nothing is left at ``dest`` when the download fails."""
        params = {"format": format} if format else {}
        for attempt in self._client.retrying():
            with attempt, self._client._http.stream("GET", f"/v1/models/{model}/download", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError.from_response(response)
                target = Path(dest)
                if target.is_dir():
                    target = target / _attachment_name(response, f"{model}-{format or 'export'}")
                partial = target.with_name(target.name + ".partial")
                digest = hashlib.sha256()
                try:
                    with partial.open("wb") as out:
                        for chunk in response.iter_bytes(1 << 20):
                            out.write(chunk)
                            digest.update(chunk)
                    expected = response.headers.get("x-artefact-sha256")
                    if expected and digest.hexdigest() != expected:
                        raise ApiError(response.status_code, response.status_code, "download corrupted",
                                       f"sha256 {digest.hexdigest()}, expected {expected}")
                    partial.replace(target)
                finally:
                    partial.unlink(missing_ok=True)
                return target
        raise AssertionError("unreachable: tenacity reraises the last error")

    def load(self, model: str) -> ModelLoaded:
        """Load into the serving engine: status ``deployed`` (webhook ``model.loaded``)."""
        return self._client.request("POST", f"/v1/models/{model}/load", ModelLoaded)

    def unload(self, model: str) -> ModelLoaded:
        return self._client.request("POST", f"/v1/models/{model}/unload", ModelLoaded)

    def deploy(self, model: str, replicas: int = 1, strategy: str = "rolling", **options: Any) -> DeployAccepted:
        """Deploy a policy to ``replicas`` robots of the fleet (seed 001); ``options``: robots, max_unavailable,
        failure_threshold, check, resources. Follow it with ``deployment`` or ``wait_deployment``."""
        body = {"replicas": replicas, "strategy": strategy, **options}
        return self._client.request("POST", f"/v1/models/{model}/deploy", DeployAccepted, json=body)

    def undeploy(self, model: str, robots: builtins.list[str] | None = None) -> Undeployed:
        """Stop a policy on the robots that run it (or on ``robots``)."""
        body = {"robots": robots} if robots else {}
        return self._client.request("POST", f"/v1/models/{model}/undeploy", Undeployed, json=body)

    def deployment(self, deployment_id: str | int) -> DeploymentRecord:
        """A deployment's status and each robot's."""
        return self._client.request("GET", f"/v1/deployments/{deployment_id}", DeploymentRecord)

    def wait_deployment(self, deployment_id: str | int, timeout_s: float = 600.0, poll_s: float = 0.5
                        ) -> DeploymentRecord:
        """The deployment's record once its job ended (deployed, degraded, rolled back, failed or cancelled)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self._client.request("GET", f"/v1/jobs/{deployment_id}", JobData)
            if job.status in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
                return self.deployment(deployment_id)
            time.sleep(poll_s)


class Auth(_Resource):
    """Access control: a user's login or an API key's client-credentials grant; the access token
    it gives is then sent on every request of this client (``Authorization: Bearer``)."""

    refresh_token: str | None = None

    def _use(self, token: AccessToken) -> AccessToken:
        self._client._http.headers["Authorization"] = f"Bearer {token.access_token}"
        if token.refresh_token is not None:
            self.refresh_token = token.refresh_token
        return token

    def login(self, username: str, password: str) -> AccessToken:
        return self._use(self._client.request("POST", "/v1/auth/login", AccessToken,
                                              json={"username": username, "password": password}))

    def refresh(self, refresh_token: str | None = None) -> AccessToken:
        """A new access token for the stored (or given) refresh token, which is then spent."""
        body = {"refresh_token": refresh_token or self.refresh_token}
        return self._use(self._client.request("POST", "/v1/auth/refresh", AccessToken, json=body))

    def logout(self) -> LoggedOut:
        """Revoke the stored refresh token and stop sending the access token."""
        refresh_token, self.refresh_token = self.refresh_token, None
        self._client._http.headers.pop("Authorization", None)
        if refresh_token is None:  # a key's token: nothing to revoke
            return LoggedOut(revoked=False)
        return self._client.request("POST", "/v1/auth/logout", LoggedOut, json={"refresh_token": refresh_token})

    def client_credentials(self, client_id: str | int, client_secret: str) -> AccessToken:
        """OAuth 2.0's grant (seed 000): an API key (``client_secret``, its id or name as ``client_id``)."""
        form = {"grant_type": "client_credentials", "client_id": str(client_id), "client_secret": client_secret}
        return self._use(self._client.request("POST", "/oauth/token", AccessToken, data=form))



class Nlp(_Resource):
    """Seed 002's NLP service: text analyses and summaries (lengths in words)."""

    def analyze(self, text: str, analysis_types: list[str] | None = None, language: str = "auto",
                max_keywords: int = 10) -> TextAnalysisResult:
        """``analysis_types``: any of sentiment, entities, keywords, language (None: all)."""
        body: dict[str, Any] = {"text": text, "language": language, "max_keywords": max_keywords}
        if analysis_types is not None:
            body["analysis_types"] = analysis_types
        return self._client.request("POST", "/v1/ai/nlp/analyze", TextAnalysisResult, json=body)

    def summarize(self, text: str, max_length: int = 100, min_length: int = 30, method: SummaryMethod = "extractive",
                  model: str = "auto") -> SummaryResult:
        """``method``: ``extractive`` (the text's own sentences) or ``expert`` (``model``: an expert or ``auto``)."""
        body = {"text": text, "max_length": max_length, "min_length": min_length, "method": method, "model": model}
        return self._client.request("POST", "/v1/ai/nlp/summarize", SummaryResult, json=body)

def _attachment_name(response: httpx.Response, fallback: str) -> str:
    """The file name the server's Content-Disposition gives (its last component only), else ``fallback``."""
    header = Message()
    header["content-disposition"] = response.headers.get("content-disposition", "")
    return Path(header.get_filename() or fallback).name or fallback


__all__ = ["Client", "ApiError", "TokenStream"]
