"""bench/pipeline.py in its --tiny mode: one repeat of a few steps writes both sides' timings, the training
config they shared and their ratio (speed itself is the bench's business, not a test's)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "pipeline.py"


def bench_module() -> ModuleType:
    """bench/pipeline.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_pipeline", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_tiny_bench_writes_both_timings_and_their_ratio(tmp_path: Path) -> None:
    out = tmp_path / "results" / "pipeline.json"
    assert bench_module().main(["--tiny", "--repeats", "1", "--steps", "3", "--rows", "12", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    (direct,), (pipeline,) = report["direct"], report["pipeline"]
    for timing in (direct, pipeline, report["warmup_pipeline"]):
        assert timing["wall_s"] >= timing["training_s"] > 0
        assert timing["steps"] == 3 and len(timing["losses"]) == 3
    assert set(pipeline["nodes_s"]) == {"dataset", "preprocessing", "train"}
    # The baseline is the same training: the pipeline's own config and rows, so the same losses.
    assert report["config"]["training_config"]["max_steps"] == 3
    assert report["config"]["training_config"]["threads"] == 1
    assert report["same_losses"] is True
    assert report["ratios"]["wall"] == pytest.approx(pipeline["wall_s"] / direct["wall_s"], rel=0.01)
    assert report["ratios"]["training"] == pytest.approx(pipeline["training_s"] / direct["training_s"], rel=0.01)
    assert report["added_outside_training_s"] == pytest.approx(
        pipeline["outside_training_s"] - direct["outside_training_s"], abs=0.002)
    assert report["meets_target"] == (report["ratios"]["wall"] <= report["target"])
    assert len(report["load_average_start"]) == len(report["load_average_end"]) == 3
    assert report["orders"] == [["direct", "pipeline"]]
