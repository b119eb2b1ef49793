"""bench/services.py in its --quick mode: a few rounds of each service, bare and through the real bridge app in a
subprocess (as the bridge node binds its socket, and with TCP_NODELAY), write every side's timings, their ratios
and the answers both gave (speed itself is the bench's business, not a test's)."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "services.py"
CAT_CLASSES = {281, 282, 285}   # tabby, tiger cat, Egyptian cat: what the photo shows


def bench_module() -> ModuleType:
    """bench/services.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_services", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_quick_bench_writes_each_sides_timings_their_ratios_and_the_same_answers(tmp_path: Path) -> None:
    bench = bench_module()
    out = tmp_path / "results" / "services.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert report["benchmark"] == "services" and report["config"]["quick"] is True
    assert len(report["load_average_start"]) == len(report["load_average_end"]) == 3
    assert report["git"]["commit"]
    services = report["services"]
    assert list(services) == ["ocr", "classify", "nlp_analyze", "nlp_summarize"]
    assert list(report["load_average_after_each_service"]) == list(services)
    sides = ["bare", "bridge", "bridge_nodelay"]
    for name, found in services.items():
        rounds = 2 if name == "ocr" else 3
        # Every side answered every call as the bare library did, and the order turned each round.
        assert found["same_answer"] is True, name
        assert found["orders"] == [sides, sides[1:] + sides[:1], sides[2:] + sides[:2]][:rounds]
        for side in sides:
            figures = found[side]
            assert figures["n"] == len(figures["samples_ms"]) == rounds
            assert all(ms > 0 for ms in figures["samples_ms"])
            assert figures["median_ms"] == pytest.approx(statistics.median(figures["samples_ms"]), abs=0.001)
            assert figures["median_ms"] <= figures["p95_ms"] <= max(figures["samples_ms"]) + 0.001
        bare = found["bare"]
        for side in sides[1:]:
            figures = found[side]
            assert figures["ratio"] == pytest.approx(figures["median_ms"] / bare["median_ms"], rel=0.001)
            assert figures["ratio_p95"] == pytest.approx(figures["p95_ms"] / bare["p95_ms"], rel=0.001)
            assert figures["added_ms"] == pytest.approx(statistics.median(
                b - a for a, b in zip(bare["samples_ms"], figures["samples_ms"])), abs=0.002)
            assert figures["within_target"] == (figures["ratio"] <= 1.2)
    for side in sides[1:]:
        assert report["http_floor"][side]["n"] == 3 and report["http_floor"][side]["median_ms"] > 0
    # What was read and recognised: the sign's words (a narrow space may go), the cat.
    assert "".join(services["ocr"]["answer"]).replace(" ", "") == "".join(bench.SIGN_LINES).replace(" ", "")
    assert services["classify"]["answer"][0] in CAT_CLASSES and len(services["classify"]["answer"]) == 5
    assert services["nlp_analyze"]["answer"][0] == "en"
    assert 10 <= len(services["nlp_summarize"]["answer"].split()) <= 40
