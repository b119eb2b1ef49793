"""The serving path's side of the model registry: every request an expert answered, recorded against
the registry version that mirrors the expert version that answered it (the figures of
``GET /v1/models/{id}/performance`` and ``/metrics``).

The experts node records; the jobs node reads. Both open the operations database: rows gather in
memory and are written in batches (``PerformanceLog``), and a background flush every
``flush_every_s`` makes a quiet model's last requests reach the disk. A version the jobs node has
not mirrored yet (it mirrors at its start and after each training job) is looked up again on its
next request; its requests until then are not counted. Opening it marks every version the experts
serve ``trained`` again: a starting engine has nothing loaded (policies are other nodes' and keep
their status).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from embodied_ai.model_registry.performance import PerformanceLog
from embodied_ai.model_registry.store import ModelKind, ModelRegistry

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0
SERVED_KINDS = [ModelKind.EXPERT_ADAPTER, ModelKind.EXPERT_MODEL, ModelKind.PIPELINE_OUTPUT]   # the experts' engine's


class ServedRequests:
    def __init__(self, db_path: Path, flush_every_s: float = FLUSH_EVERY_S) -> None:
        self._models = ModelRegistry(db_path)
        self.reset = self._models.reset_loaded(SERVED_KINDS)   # the versions it found deployed
        self._log = PerformanceLog(db_path)
        self._ids: dict[tuple[int, int], str] = {}
        self._stopping = threading.Event()
        self._flusher = threading.Thread(target=self._flush_every, args=(flush_every_s,), name="served-requests",
                                         daemon=True)
        self._flusher.start()

    def record(self, expert_id: int, version: int, latency_ms: float, success: bool,
               memory_mb: float | None = None) -> bool:
        """One request the expert's ``version`` answered (or failed); False when that version is not in the
        registry (yet), so nothing was recorded."""
        model_id = self._model_id(expert_id, version)
        if model_id is None:
            return False
        self._log.record(model_id, latency_ms, success, memory_mb)
        return True

    def _model_id(self, expert_id: int, version: int) -> str | None:
        key = (expert_id, version)
        if key not in self._ids:
            mirrors, _ = self._models.list(expert_id=expert_id, limit=1000)
            for model in mirrors:
                if model.source.expert_version is not None:
                    self._ids[(expert_id, model.source.expert_version)] = model.id
        return self._ids.get(key)

    def _flush_every(self, period_s: float) -> None:
        while not self._stopping.wait(period_s):
            try:
                self._log.flush()
            except Exception:   # a locked database: the rows wait for the next flush
                log.exception("could not write the serving figures")

    def close(self) -> None:
        self._stopping.set()
        self._flusher.join(5)
        self._log.close()
        self._models.close()
