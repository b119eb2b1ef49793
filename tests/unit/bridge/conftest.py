"""The bridge's app over the in-memory FakeGraph: route tests in milliseconds, without ROS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from tests.browser import headless_chromium
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import LocalJobs


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium for the dashboard's pages."""
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeGraph]:
    jobs = LocalJobs(tmp_path)
    yield FakeGraph(jobs, jobs.webhooks, jobs.operations)
    jobs.close()


@pytest.fixture
def settings(tmp_path: Path) -> BridgeSettings:
    return BridgeSettings(state_dir=tmp_path / "state", max_upload_bytes=64 * 1024, hardware_event_hz=50.0,
                          camera_event_hz=30.0)


@pytest.fixture
def client(fake: FakeGraph, settings: BridgeSettings) -> Iterator[TestClient]:
    with TestClient(create_app(fake.ports(), settings)) as test_client:  # runs the lifespan (events)
        yield test_client

