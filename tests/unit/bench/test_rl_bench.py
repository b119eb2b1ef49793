"""bench/rl.py in its --quick mode: one repeat of two episodes per environment writes both sides' timings,
their ratio, a q_learning run, and each deployed policy's control tick against the servo controller's cycle
(speed itself is the bench's business, not a test's)."""

from __future__ import annotations

import importlib.util
import json
import math
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


def test_the_quick_bench_writes_both_timings_their_ratio_and_the_policy_ticks(tmp_path: Path) -> None:
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

    policies = report["policies"]
    assert {name: (p["model_type"], p["env_id"]) for name, p in policies.items()} == {
        "reach_ppo": ("ppo", "embodied/Reach-v0"), "reach_dqn": ("dqn", "embodied/Reach-v0"),
        "head_track_q_learning": ("q_learning", "embodied/HeadTrack-v0")}
    assert policies["reach_dqn"]["training"]["env_config"]["actions"] == "discrete"
    assert policies["reach_ppo"]["training"]["env_config"]["actions"] == "continuous"
    for figures in policies.values():
        # Every tick commanded the controller, which then ran one control period of its own cycles.
        assert figures["ticks"] == 5 and figures["servo_cycles"] == 5 * figures["cycles_per_tick"]
        assert figures["servo_rate_hz"] == 200 and figures["cycles_per_tick"] == 200 / figures["control_rate_hz"]
        for key in ("tick_us", "servo_cycle_us", "ratio_to_servo_cycle", "share_of_control_period_pct",
                    "share_of_servo_period_pct"):
            assert all(math.isfinite(figures[key][stat]) and figures[key][stat] > 0 for stat in ("median", "p99"))
            assert figures[key]["median"] <= figures[key]["p99"] or key == "ratio_to_servo_cycle"
        tick, cycle = figures["tick_us"], figures["servo_cycle_us"]
        for stat in ("median", "p99"):
            assert figures["ratio_to_servo_cycle"][stat] == pytest.approx(tick[stat] / cycle[stat], rel=0.01)
            assert figures["share_of_control_period_pct"][stat] == pytest.approx(
                100 * tick[stat] * 1e-6 * figures["control_rate_hz"], rel=0.01)
            assert figures["share_of_servo_period_pct"][stat] == pytest.approx(100 * tick[stat] * 1e-6 * 200, rel=0.01)
        assert figures["ratios_per_repeat"] == [pytest.approx(figures["ratio_to_servo_cycle"]["median"], rel=0.01)]
    assert policies["reach_ppo"]["control_rate_hz"] == 10 and policies["head_track_q_learning"]["cycles_per_tick"] == 80
