"""bench/distributed.py in its --quick mode: one repeat of three steps on each side (local, 1 and 2 Ray
workers on a two-node loopback cluster) and one timed worker join write every side's rate and wall time and
the ratios to the local side (speed itself is the bench's business, not a test's)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "distributed.py"

pytestmark = pytest.mark.timeout(900)


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_distributed", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_quick_bench_writes_each_sides_rate_and_the_ratios(tmp_path: Path) -> None:
    out = tmp_path / "results" / "distributed.json"
    assert bench_module().main(["--quick", "--rows", "16", "--batch-size", "4", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    runs = {run["side"]: run for run in report["runs"]}
    assert set(runs) == {"local", "ray_1", "ray_2"}
    for run in runs.values():
        assert run["steps"] == 3 and run["wall_s"] > run["train_seconds"] > 0 and run["samples_per_s"] > 0
    headline = report["headline"]
    for side in ("ray_1", "ray_2"):
        assert headline["rate_ratio_vs_local"][side] == pytest.approx(
            runs[side]["samples_per_s"] / runs["local"]["samples_per_s"], rel=0.01)
        assert headline["wall_ratio_vs_local"][side] == pytest.approx(runs[side]["wall_s"] / runs["local"]["wall_s"],
                                                                      rel=0.01)
    assert len(report["joins_s"]) == 1 and 0 < headline["join_s"] < 120
    assert set(headline["load"]) == {"start", "after_repeat_0", "end"}
