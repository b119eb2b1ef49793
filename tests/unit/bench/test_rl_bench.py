"""bench/rl.py in its --quick mode: one repeat of two episodes per environment writes both sides' timings,
their ratio and a q_learning run (speed itself is the bench's business, not a test's)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "rl.py"


def bench_module() -> ModuleType:
    """bench/rl.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_rl", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_quick_bench_writes_both_timings_and_their_ratio(tmp_path: Path) -> None:
    out = tmp_path / "results" / "rl.json"
    assert bench_module().main(["--quick", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert set(report["envs"]) == {"embodied/Reach-v0", "embodied/HeadTrack-v0"}
    for figures in report["envs"].values():
        (env,), (bare,) = figures["env"], figures["bare"]
        # The bare loop replays the env's episodes: the same steps, and the joints end where the env's did.
        assert env["episodes"] == bare["episodes"] == 2
        assert env["steps"] == bare["steps"] == figures["steps"] > 0
        assert figures["same_trajectory"] is True and figures["same_episodes"] is True
        for timing in (env, bare):
            assert timing["step_s"] > 0 and timing["reset_s"] > 0
            assert timing["steps_per_s"] == pytest.approx(timing["steps"] / timing["step_s"], rel=0.01)
        assert figures["ratio"] == pytest.approx(bare["steps_per_s"] / env["steps_per_s"], rel=0.01)
        assert figures["added_per_step_ms"] == pytest.approx(
            1000 * (env["step_s"] / env["steps"] - bare["step_s"] / bare["steps"]), abs=0.01)
    assert report["envs"]["embodied/Reach-v0"]["cycles_per_step"] == 20      # 200 Hz controller, 10 Hz policy
    assert report["envs"]["embodied/HeadTrack-v0"]["cycles_per_step"] == 80  # 2.5 Hz policy

    q_learning = report["q_learning"]
    (run,) = q_learning["runs"]
    assert run["episodes"] == 2 and run["steps"] > 0
    assert q_learning["episodes_per_s"] == pytest.approx(run["episodes"] / run["seconds"], rel=0.01)
    assert q_learning["ratio_to_random_env"] > 0
    assert len(report["load_average_start"]) == len(report["load_average_end"]) == 3
    assert report["orders"] == [["env", "bare"]]
