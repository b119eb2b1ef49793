"""The model registry as the bridge reaches it (the jobs node): model versions as JSON-ready dicts
(``ModelVersion.to_dict`` with ``servable``), their cards, serving figures, downloads, and
loading into the serving engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ModelView = dict[str, Any]
MetricsView = dict[str, Any]         # MetricsSeries.to_dict: model_id, interval, start_time, end_time, buckets
PerformanceView = dict[str, Any]     # Performance.to_dict: seed 002's performance_metrics and resource_usage
CardView = dict[str, Any]            # model_id, model_name, version, card (Markdown)


@dataclass(frozen=True)
class ModelFilter:
    """Filters of a list; None matches any."""

    kind: str | None = None
    status: str | None = None
    name: str | None = None
    base_model: str | None = None


@dataclass(frozen=True)
class ArtefactFile:
    """The file a download sends, on this machine (the jobs node shares the state directory)."""

    path: Path
    media_type: str
    filename: str
    size_bytes: int
    sha256: str                      # of the file sent; "" for a folder's tar


class ModelsPort(Protocol):
    async def list_models(self, filters: ModelFilter, limit: int, offset: int) -> tuple[list[ModelView], int]:
        """A page of versions, newest registration first, and how many match over all pages; InvalidRequest
        (400) listing every problem of the filters."""
        ...

    async def get(self, model: str) -> ModelView:
        """By id (``mdl_...``), ``name:N`` or name (its newest version); NotFound (404) otherwise."""
        ...

    async def card(self, model: str) -> CardView:
        """The model card (Markdown) and which version it describes."""
        ...

    async def metrics(self, model: str, start_time: str | None, end_time: str | None, interval: str) -> MetricsView:
        """Serving figures per interval (1m, 5m, 1h); InvalidRequest (400) listing every problem of the window."""
        ...

    async def performance(self, model: str) -> PerformanceView:
        """Requests, average and p95 latency, success rate and memory over the retained window."""
        ...

    async def artefact(self, model: str, format: str) -> ArtefactFile:
        """The file of the export in ``format``; NotFound (404) naming the formats the version has."""
        ...

    async def set_loaded(self, model: str, loaded: bool) -> ModelView:
        """Load into the serving engine (``deployed``) or unload (``trained``); Conflict (409) with the reason
        when it cannot be served or is not loaded, the experts node's code when it refuses."""
        ...
