"""The Models API's contract: the model registry (seeds 004, 002 and 001) and OpenAI's model list.

``GET /v1/models`` answers OpenAI clients and the seeds' clients at once: OpenAI's
``{object: "list", data: [...]}`` with the envelope's ``success``, ``error`` and ``timestamp``
and the list's ``total``, ``limit``, ``offset`` and ``has_more`` beside it. Each item keeps
OpenAI's ``id``, ``object``, ``created`` and ``owned_by``; ``id`` is the name
``/v1/chat/completions`` accepts (``auto``, an expert's name; a registry version's own name
too, with ``servable`` saying whether chat completions serve that version now). Registry
versions add seed 004's fields (``model_id``, ``model_name``, ``base_model``, ``run_id``,
``metrics``, ``exports``), seed 001's and 002's (``name``, ``type``, ``status``, ``version``)
and the registry's own. The other endpoints answer in the envelope with seed 004's names.

Units: latencies in the serving figures are milliseconds (``*_ms``) except seed 002's
``*_response_time`` and seed 001's ``latency`` series, which are seconds; rates are percent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from embodied_ai.bridge.ports.models import MetricsView, ModelView, PerformanceView
from embodied_ai.bridge.schemas.common import ErrorInfo, Strict, utc_now

API_BASE = "/v1"
OWNER = "embodied"
STATUSES = ("trained", "deployed", "archived")
KINDS = ("expert_adapter", "expert_model", "pipeline_output", "policy", "detector")


class _ModelFields(BaseModel):
    """Field names beginning with ``model_`` are the seeds' (pydantic reserves that prefix otherwise)."""

    model_config = ConfigDict(protected_namespaces=())


class ServedModel(_ModelFields):
    """OpenAI's Model: a name chat completions accept."""

    id: str = Field(description="the name /v1/chat/completions accepts")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds")
    owned_by: str = OWNER
    servable: bool = Field(default=True, description="chat completions serve this name now")


class RegistryModel(ServedModel):
    """A registry version in the model list: OpenAI's fields and the registry's."""

    model_id: str = Field(description="the version's registry id (mdl_...): the path of /v1/models/{id}")
    model_name: str
    name: str
    version: int
    ref: str = Field(description="name:version, which the paths accept too")
    kind: str = Field(description=", ".join(KINDS))
    type: str = Field(description="seed 001's and 002's name for kind")
    status: str = Field(description="trained | deployed (loaded into the serving engine) | archived")
    base_model: str
    description: str
    run_id: str | None
    job_id: int | None
    dataset_id: str | None
    expert_id: int | None
    expert_version: int | None
    metrics: dict[str, Any] = Field(description="measured evaluation figures")
    exports: list[str] = Field(description="the formats /v1/models/{id}/download serves")
    created_at: str
    updated_at: str
    loaded_at: str | None


class ModelCatalog(_ModelFields):
    object: Literal["list"] = "list"
    data: list[RegistryModel | ServedModel]
    success: bool = True
    error: ErrorInfo | None = None
    timestamp: datetime = Field(default_factory=utc_now)
    total: int = Field(description="registry versions matching, over all pages (the served names are not counted)")
    limit: int
    offset: int
    has_more: bool
    registry_available: bool = Field(default=True, description=(
        "false while the jobs node (which keeps the registry) is not running: only the served names are listed"))


class ArtefactData(BaseModel):
    format: str
    bytes: int
    sha256: str = Field(description="of the file; of a folder, the sha256 of its sorted lines "
                                    "'<relative path>\\0<file sha256>\\n'")
    is_dir: bool = Field(description="a folder: it downloads as a tar of its files")
    created_at: str
    download_url: str


class ModelData(_ModelFields):
    """Seed 004's model details, with the registry's fields."""

    model_id: str
    model_name: str
    name: str
    version: int
    ref: str
    kind: str
    type: str
    status: str
    servable: bool = Field(description="chat completions serve this version now, under its name")
    base_model: str
    description: str
    license: str
    run_id: str | None
    job_id: int | None
    dataset_id: str | None
    expert_id: int | None
    expert_version: int | None
    training_config: dict[str, Any]
    metrics: dict[str, Any]
    exports: dict[str, str] = Field(description="format -> its download URL (seed 004's exports)")
    artefacts: dict[str, ArtefactData]
    created_at: str
    updated_at: str
    loaded_at: str | None
    archived_at: str | None


class ModelDetail(_ModelFields):
    """The envelope around ModelData, with OpenAI's Model fields beside it (so OpenAI's ``models.retrieve``
    reads this answer too)."""

    success: bool = True
    data: ModelData
    error: ErrorInfo | None = None
    timestamp: datetime = Field(default_factory=utc_now)
    id: str = Field(description="OpenAI's id: the version's name")
    object: Literal["model"] = "model"
    created: int
    owned_by: str = OWNER


class ModelCard(_ModelFields):
    model_id: str
    model_name: str
    version: int
    card: str = Field(description="Markdown (send Accept: text/markdown for the card alone)")


class SeriesData(BaseModel):
    values: list[float | None]
    timestamps: list[str]


class MetricsBucket(BaseModel):
    timestamp: str = Field(description="the interval's start")
    requests: int
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    success_rate: float | None = Field(description="percent; null without requests")


class ModelMetrics(_ModelFields):
    model_id: str
    interval: str = Field(description="1m | 5m | 1h")
    start_time: str
    end_time: str
    buckets: list[MetricsBucket]
    metrics: dict[str, SeriesData] = Field(description=(
        "seed 001's series: latency (average, s), p95_latency (s), throughput (requests per interval), "
        "success_rate (%)"))


class ModelPerformance(_ModelFields):
    """Seed 002's figures over the retained window (7 days)."""

    model_id: str
    performance_metrics: dict[str, float | int | None]
    resource_usage: dict[str, float | None]
    window: dict[str, str]
    last_request_at: str | None


class LoadRequest(Strict):
    force_reload: bool = Field(default=False, description=(
        "seed 002's; a load always asks the engine, which loads what it has not loaded yet"))
    gpu_device: int | None = Field(default=None, ge=0, description=(
        "seed 002's; accepted and not used: the experts node serves on the device it was started with"))


class ModelLoaded(_ModelFields):
    """Seed 002's answer to a load (which is done when it answers), with the version's details."""

    model_id: str
    model_name: str
    version: int
    status: str = Field(description="deployed after a load, trained after an unload")
    loaded: bool
    message: str
    model: ModelData


def epoch_seconds(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp())


def download_url(model_id: str, format: str) -> str:
    return f"{API_BASE}/models/{model_id}/download?format={format}"


def registry_model(view: ModelView) -> RegistryModel:
    fields = {k: view[k] for k in RegistryModel.model_fields if k in view and k not in ("id", "created", "type")}
    return RegistryModel(id=view["name"], created=epoch_seconds(view["created_at"]), type=view["kind"], **fields)


def model_data(view: ModelView) -> ModelData:
    fields = {k: view[k] for k in ModelData.model_fields if k in view and k not in ("type", "exports", "artefacts")}
    artefacts = {f: ArtefactData(**a, download_url=download_url(view["model_id"], f))
                 for f, a in view["artefacts"].items()}
    return ModelData(type=view["kind"], exports={f: a.download_url for f, a in artefacts.items()},
                     artefacts=artefacts, **fields)


def model_detail(view: ModelView) -> ModelDetail:
    return ModelDetail(data=model_data(view), id=view["name"], created=epoch_seconds(view["created_at"]))


def model_metrics(series: MetricsView) -> ModelMetrics:
    buckets = [MetricsBucket(**b) for b in series["buckets"]]
    stamps = [b.timestamp for b in buckets]

    def seconds(value: float | None) -> float | None:
        return None if value is None else value / 1000.0

    return ModelMetrics(
        model_id=series["model_id"], interval=series["interval"], start_time=series["start_time"],
        end_time=series["end_time"], buckets=buckets, metrics={
            "latency": SeriesData(values=[seconds(b.avg_latency_ms) for b in buckets], timestamps=stamps),
            "p95_latency": SeriesData(values=[seconds(b.p95_latency_ms) for b in buckets], timestamps=stamps),
            "throughput": SeriesData(values=[float(b.requests) for b in buckets], timestamps=stamps),
            "success_rate": SeriesData(values=[b.success_rate for b in buckets], timestamps=stamps)})


def model_performance(figures: PerformanceView) -> ModelPerformance:
    return ModelPerformance(**{k: v for k, v in figures.items() if k in ModelPerformance.model_fields})


def model_loaded(view: ModelView, loaded: bool) -> ModelLoaded:
    what = "loaded into the serving engine" if loaded else "unloaded"
    return ModelLoaded(model_id=view["model_id"], model_name=view["name"], version=view["version"],
                       status=view["status"], loaded=loaded, message=f"model {view['ref']} {what}",
                       model=model_data(view))
