"""The math and python experts: their build scripts run (tiny configuration), their committed
adapters are installed as default experts, and each changes the base the way it was trained."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embodied_ai.experts.adapters import write_onnx_adapter
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.experts.datasets_builtin.math import write_dataset as write_math
from embodied_ai.experts.datasets_builtin.python import write_dataset as write_python
from embodied_ai.experts.engine import GenerationRequest, InferenceEngine
from embodied_ai.experts.evaluation import evaluate_final_answers, final_answer, read_rows
from embodied_ai.experts.expert_build import adapter_sha256
from embodied_ai.experts.paths import REPO_EXPERTS_DIR, REPO_ROOT
from embodied_ai.experts.service import ExpertService

pytestmark = pytest.mark.timeout(900)  # model-heavy: generous on a slow, shared machine
MATH_SAMPLE = 15


@pytest.mark.parametrize("expert", ["math", "python"])
def test_committed_figures_are_of_the_committed_adapter_and_beat_the_base(expert: str) -> None:
    """What the cards claim, from the full evaluations build.py ran on the committed weights."""
    metrics = json.loads((REPO_EXPERTS_DIR / expert / "metrics.json").read_text())
    assert metrics["adapter_sha256"] == adapter_sha256(REPO_EXPERTS_DIR / expert / "adapter")
    if expert == "math":
        assert metrics["held_out"]["held_out_examples"] >= 100
        assert metrics["held_out"]["accuracy"] > metrics["base_without_adapter"]["accuracy"]
    else:
        perplexity = metrics["perplexity"]
        assert perplexity["adapter"]["tokens"] == perplexity["base_without_adapter"]["tokens"] > 1000
        assert perplexity["adapter"]["perplexity"] < 0.5 * perplexity["base_without_adapter"]["perplexity"]


def test_final_answer_is_the_last_stated_number() -> None:
    assert final_answer("12 * 3 = 36. The answer is 36.") == "36"
    assert final_answer("Add 4 to both sides: 2x = -6. Divide by 2: x = -3. The answer is -3.") == "-3"
    assert final_answer("The answer is 1. No, the answer is 2. The answer is 5") == "5"
    assert final_answer("36") is None


def test_held_out_splits_share_no_prompt_or_module(tmp_path: Path) -> None:
    math_data = write_math(tmp_path / "math", 3000, 100, seed=0)
    train = {r["prompt"] for r in read_rows(math_data["train"])}
    held_out = read_rows(math_data["held_out"])
    assert len(held_out) == 100 and not train & {r["prompt"] for r in held_out}
    python_data = write_python(tmp_path / "python", seed=0)

    def modules(path: Path) -> set[str]:
        return {r["completion"][1:].split("(")[0].rsplit(".", 1)[0] for r in read_rows(path)}
    assert not modules(python_data["train"]) & modules(python_data["held_out"])


@pytest.mark.parametrize("expert", ["math", "python"])
def test_the_build_script_runs_on_a_tiny_configuration(base: BuiltBase, tmp_path: Path,
                                                       expert: str) -> None:
    finished = subprocess.run([sys.executable, str(REPO_EXPERTS_DIR / expert / "build.py"), "--tiny",
                               "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=1200)
    assert finished.returncode == 0, finished.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["training"]["steps"] == 2 and metrics["held_out"]["held_out_examples"] >= 1
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    if expert == "python":
        assert metrics["perplexity"]["adapter"]["perplexity"] > 1.0
        assert metrics["perplexity"]["base_without_adapter"]["tokens"] == metrics["perplexity"]["adapter"]["tokens"]


def test_install_defaults_registers_every_shipped_expert(base: BuiltBase, engine: InferenceEngine,
                                                         tmp_path: Path) -> None:
    service = ExpertService(tmp_path / "state", base, engine=engine)
    try:
        installed = set(service.install_defaults())
        assert {"general", "robot_control", "math", "python"} <= installed
        for name in ("math", "python"):
            record = service.registry.get(name)
            assert record.status == "ready" and record.metrics.get("held_out_examples", 0) > 0
        served = service.generate(GenerationRequest("what is 7 plus 5", max_tokens=32), expert="math")
        assert served.route.expert == "math" and served.result.text
    finally:
        service.close()


def test_the_math_adapter_answers_held_out_problems_better_than_the_base(
        base: BuiltBase, engine: InferenceEngine, tmp_path: Path) -> None:
    adapter = write_onnx_adapter(REPO_EXPERTS_DIR / "math" / "adapter", tmp_path / "math.onnx_adapter",
                                 set(base.lora_inputs))
    engine.load_adapter("math_test", adapter)
    # A sample of the held-out split (the full one is build.py's, in metrics.json).
    rows = read_rows(write_math(tmp_path / "data", 3000, 100, seed=0)["held_out"])[:MATH_SAMPLE]
    with_adapter = evaluate_final_answers(engine, "math_test", rows)
    without = evaluate_final_answers(engine, None, rows)
    assert with_adapter.valid_rate == 1.0  # every answer ends in the trained format
    assert with_adapter.exact > without.exact, json.dumps(with_adapter.failures[:5], indent=1)
