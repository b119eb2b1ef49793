"""Model cards come from the record alone: recorded figures appear, unrecorded ones do not."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from embodied_ai.model_registry import ModelKind, ModelRegistry, ModelSource, model_card


def _front_matter(card: str) -> str:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, card[:200]
    return match.group(1)


def test_card_of_a_fine_tuned_model_carries_its_recorded_figures(registry: ModelRegistry, tmp_path: Path) -> None:
    model = registry.register(
        "llama2-finetuned", "pipeline_output", base_model="meta-llama/Llama-2-7b-hf",
        training_config={"method": "qlora", "lora_r": 16, "lora_alpha": 32, "epochs": 3, "batch_size": 4,
                         "learning_rate": 2e-4, "template": {"name": "alpaca"}},
        metrics={"accuracy": 0.92, "f1": 0.89, "final_loss": 0.42, "exact_match": None},
        source=ModelSource(job_id=12, run_id="abc123", dataset_id="ds_xyz789"),
        description="Answers kitchen questions.")
    export = tmp_path / "model.gguf"
    export.write_bytes(b"G" * 1_234_567)
    registry.add_artefact(model.id, "gguf", export)
    card = model_card(registry.get(model.id))

    front = _front_matter(card)
    assert "license: apache-2.0" in front
    assert 'base_model: "meta-llama/Llama-2-7b-hf"' in front
    assert "pipeline_tag: text-generation" in front
    assert '- "qlora"' in front and '- "gguf"' in front and '- "pipeline_output"' in front
    assert "library_name" not in front  # no adapter export recorded

    for section in ("# llama2-finetuned", "## Model Details", "## Uses", "### Direct Use", "### Out-of-Scope Use",
                    "## Bias, Risks, and Limitations", "## How to Get Started with the Model", "## Training Details",
                    "### Training Data", "#### Training Hyperparameters", "## Evaluation", "### Results",
                    "## Exports"):
        assert f"\n{section}\n" in card
    assert "Answers kitchen questions." in card and model.id in card
    for row in ("| lora_r | 16 |", "| lora_alpha | 32 |", "| epochs | 3 |", "| batch_size | 4 |",
                "| learning_rate | 0.0002 |", "| template.name | alpaca |", "| method | qlora |"):
        assert row in card
    for row in ("| accuracy | 0.92 |", "| f1 | 0.89 |", "| final_loss | 0.42 |"):
        assert row in card
    assert "exact_match" not in card  # recorded as not measured: no row
    assert "`ds_xyz789`" in card and "`abc123`" in card and "**Job:** 12" in card
    digest = hashlib.sha256(export.read_bytes()).hexdigest()
    assert f"| gguf | 1,234,567 bytes (1.2 MB) | `{digest}` |" in card
    assert f"GET /v1/models/{model.id}/download?format=gguf" in card
    assert "No evaluation metrics" not in card


def test_card_says_what_was_not_recorded_and_invents_nothing(registry: ModelRegistry) -> None:
    model = registry.register("scratch", ModelKind.EXPERT_MODEL)
    card = model_card(model)

    front = _front_matter(card)
    assert "base_model" not in front and "license: apache-2.0" in front
    assert "no base model was recorded" in card
    assert "No dataset was recorded" in card
    assert "No training configuration was recorded." in card
    assert "No evaluation metrics were recorded for this version." in card
    assert "No exports have been recorded" in card
    assert "| Metric |" not in card and "| Setting |" not in card and "| Format |" not in card
    # The only digits in the card are the record's: its id, version (also in its ref) and registration time.
    assert "Version 1 of `scratch`" in card and "`scratch:1`" in card
    body = card.replace(model.id, "").replace(model.created_at, "").replace("apache-2.0", "")
    body = body.replace("Version 1 of", "").replace("scratch:1", "")
    assert re.findall(r"\d", body) == []


@pytest.mark.parametrize("kind, tag", [("expert_adapter", "text-generation"), ("policy", "robotics"),
                                       ("detector", "object-detection")])
def test_use_and_limitations_follow_the_kind(registry: ModelRegistry, tmp_path: Path, kind: str, tag: str) -> None:
    model = registry.register(f"m-{kind}", kind, base_model="Qwen/Qwen2.5-0.5B-Instruct")
    card = model_card(model)
    assert f"pipeline_tag: {tag}" in _front_matter(card)
    assert ("library_name: peft" in card) == (kind == "expert_adapter")
    uses = card.split("### Direct Use")[1].split("## How to Get Started")[0]
    assert uses.strip()


def test_a_folder_export_and_odd_metric_names(registry: ModelRegistry, tmp_path: Path) -> None:
    model = registry.register("odd", "expert_adapter", metrics={"loss|val": 1.5, "per_task": {"math": 0.25},
                                                                "history": [3, 2]})
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    registry.add_artefact(model.id, "adapter", folder)
    card = model_card(registry.get(model.id))
    assert "| loss\\|val | 1.5 |" in card
    assert "| per_task.math | 0.25 |" in card
    assert "| history | `[3, 2]` |" in card
    assert "| adapter | 2 bytes |" in card and "A folder's SHA-256" in card
    assert "library_name: peft" in card
