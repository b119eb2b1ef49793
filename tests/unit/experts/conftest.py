"""Fixtures shared by the experts' unit tests: the built base (cached; built once if missing,
as scripts/setup.sh does), one engine on it for the whole session, and a service with the
default experts on a fresh state directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.experts.base_build import BuiltBase, build_base
from embodied_ai.experts.engine import InferenceEngine
from embodied_ai.experts.service import ExpertService


@pytest.fixture(scope="session")
def base() -> BuiltBase:
    return build_base()


@pytest.fixture(scope="session")
def engine(base: BuiltBase) -> InferenceEngine:
    return InferenceEngine(base.onnx_dir, memory_budget_mb=64)


@pytest.fixture
def service(base: BuiltBase, engine: InferenceEngine, tmp_path: Path) -> Iterator[ExpertService]:
    """A service on a fresh state directory with the default experts installed."""
    svc = ExpertService(tmp_path / "state", base, engine=engine)
    svc.install_defaults()
    yield svc
    svc.close()
