"""The committed reference reaching policy (models/skills/reach_ppo): its build script runs on a
tiny configuration, and the committed export still fits this robot and still reaches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embodied_ai.skills.policy_export import CONTRACT_FILE, OnnxPolicy
from embodied_ai.skills.policy_runtime import PolicyRuntime
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "train_reach_policy.py"
COMMITTED = REPO / "models" / "skills" / "reach_ppo"

pytestmark = pytest.mark.timeout(300)


def test_the_build_script_runs_on_a_tiny_configuration(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, str(SCRIPT), "--episodes", "3", "--evaluate", "2", "--out",
                               str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["episodes"] == 3 and summary["held_out_episodes"] == 2
    assert 0.0 <= summary["held_out_success_rate"] <= 1.0
    assert OnnxPolicy.load(tmp_path / CONTRACT_FILE).contract.onnx_sha256 == summary["onnx_sha256"]


def test_the_committed_policy_fits_this_robot_and_reaches_as_recorded() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from train_reach_policy import held_out_episodes
    finally:
        sys.path.remove(str(SCRIPT.parent))
    policy = OnnxPolicy.load(COMMITTED / CONTRACT_FILE)
    PolicyRuntime(policy)   # refuses a contract whose joints, limits or rate no longer match the URDF
    recorded = json.loads((COMMITTED / "training.json").read_text())
    successes, _steps = held_out_episodes(policy, 10)   # deterministic: the first 10 held-out episodes again
    assert successes == recorded["held_out_successes"][:10]
    assert recorded["held_out_success_rate"] >= 0.8   # what bench/reach_graph.py deploys is a policy that reaches
