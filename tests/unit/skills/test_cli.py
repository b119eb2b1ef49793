"""`embodied rl ...` against a bridge served on loopback with the real skills' job kinds: train a tiny
q_learning policy and follow it, show and reconcile the task; bad input exits 2 with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.cli import main
from tests.unit.bridge.served import served_bridge


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with served_bridge(tmp_path / "state") as base_url:
        yield base_url


def test_train_follow_show_and_reconcile(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "--url", url, "train", "q_learning", "--episodes", "3", "--param", "learning_rate=0.5",
                 "--env-config", "max_episode_steps=5", "--env-config", "control_rate_hz=5.0", "--seed", "2"]) == 0
    out = capsys.readouterr()
    assert "task 1 (q_learning) created" in out.out and "100%" in out.err and "job 1 completed" in out.out
    assert main(["rl", "--url", url, "show", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "completed" and len(shown["metrics"]["episode_rewards"]) == 3
    assert main(["rl", "--url", url, "reconcile", "1", "--sample-size", "5"]) == 0
    assert "adaptation_score" in json.loads(capsys.readouterr().out)["metrics"]


def test_bad_input_exits_2_with_the_reason(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "--url", url, "train", "sarsa", "--episodes", "3"]) == 2
    assert "model_type" in capsys.readouterr().err   # the problem, named
    assert main(["rl", "--url", url, "train", "q_learning", "--episodes", "3", "--param", "oops"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["rl", "--url", url, "show", "4242"]) == 2
