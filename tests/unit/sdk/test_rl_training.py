"""``client.training`` for seed 001's tasks against a bridge served on loopback with the real skills'
job kinds: create a tiny q_learning task, follow it, reconcile it; a bad one raises ApiError."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Client]:
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as client:
        yield client


def test_create_follow_and_reconcile_a_task(sdk: Client) -> None:
    created = sdk.training.create("track", "q_learning", total_episodes=3, parameters={"learning_rate": 0.5},
                                  env_config={"max_episode_steps": 5, "control_rate_hz": 5.0}, seed=1)
    deadline = time.monotonic() + 120
    while (task := sdk.training.get(created.task_id)).status in ("created", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert task.status == "completed" and len(task.metrics.episode_rewards) == 3 and task.model_id
    reconciled = sdk.training.reconcile(created.task_id, sample_size=5)
    assert reconciled.sample_size == 5 and reconciled.metrics.success_rate is not None
    with pytest.raises(ApiError) as bad:
        sdk.training.create("x", "sarsa", total_episodes=1)
    assert bad.value.status == 400
