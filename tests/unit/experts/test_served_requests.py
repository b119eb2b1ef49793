"""What the experts serve reaches the model registry's performance figures: a request answered by an
expert version that the registry mirrors is recorded against that model (latency, success, memory),
and a version not mirrored yet is not counted."""

from __future__ import annotations

import pytest

from embodied_ai.experts.engine import GenerationRequest
from embodied_ai.experts.service import ExpertService
from embodied_ai.model_registry import ModelRegistry, PerformanceLog
from embodied_ai.model_registry.experts_sync import sync_expert_versions
from embodied_ai.model_registry.served import ServedRequests

pytestmark = pytest.mark.timeout(1500)  # the first test may build the base into the cache


def test_served_requests_are_recorded_against_the_mirrored_version(service: ExpertService) -> None:
    database = service.state_dir / "operations.sqlite"
    models = ModelRegistry(database)
    try:
        python = service.registry.get("python")
        assert python.current_version >= 1
        served = ServedRequests(database, flush_every_s=0.05)
        assert not served.record(python.id, python.current_version, 5.0, True)   # not mirrored yet
        mirrored = {m.source.expert_id: m.id for m in sync_expert_versions(service.registry, models)}
        service.served = served
        service.generate(GenerationRequest("Write hello world in Python.", max_tokens=4), "python")
        service.generate(GenerationRequest("Reverse a list in Python.", max_tokens=4), "python")
        served.close()
        service.served = None
        figures = PerformanceLog(database).performance(mirrored[python.id])
    finally:
        models.close()
    assert figures.requests_total == 2 and figures.successes == 2 and figures.success_rate == 100.0
    assert figures.avg_latency_ms is not None and figures.avg_latency_ms > 0 and figures.memory_mb


def test_a_starting_engine_marks_what_it_served_trained_again(service: ExpertService) -> None:
    database = service.state_dir / "operations.sqlite"
    models = ModelRegistry(database)
    try:
        [first, *_] = sync_expert_versions(service.registry, models)
        models.mark_loaded(first.id)
        served = ServedRequests(database)   # as the experts node opens it when it (re)starts
        served.close()
        assert served.reset == [first.id] and models.get(first.id).status.value == "trained"
    finally:
        models.close()
