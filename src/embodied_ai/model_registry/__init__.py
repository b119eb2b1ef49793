"""The model registry: every trained artefact's versions (expert adapters and models, pipeline
outputs, policies, detectors) with status, exports, a model card and serving figures."""

from embodied_ai.database import MAX_PAGE
from embodied_ai.model_registry.card import model_card
from embodied_ai.model_registry.performance import (
    DEFAULT_RETENTION_DAYS,
    INTERVALS,
    MAX_BUCKETS,
    Bucket,
    MetricsSeries,
    Performance,
    PerformanceLog,
)
from embodied_ai.model_registry.store import (
    EVENTS,
    MODEL_LOADED,
    MODEL_REGISTERED,
    TRANSITIONS,
    Artefact,
    ModelKind,
    ModelRegistry,
    ModelSource,
    ModelStatus,
    ModelVersion,
)

__all__ = [
    "DEFAULT_RETENTION_DAYS", "EVENTS", "INTERVALS", "MAX_BUCKETS", "MAX_PAGE", "MODEL_LOADED", "MODEL_REGISTERED",
    "TRANSITIONS", "Artefact", "Bucket", "MetricsSeries", "ModelKind", "ModelRegistry", "ModelSource", "ModelStatus",
    "ModelVersion", "Performance", "PerformanceLog", "model_card",
]
