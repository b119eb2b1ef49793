"""A model version's card in Markdown, written only from what the registry recorded.

The layout follows the Hugging Face model card (YAML front matter, then Model Details, Uses,
Bias/Risks/Limitations, How to Get Started, Training Details, Evaluation). Every figure comes
from the record: the training configuration, the measured metrics, the dataset and job
references and the exports' sizes and checksums. A section with nothing recorded says so
rather than guessing; the prose on intended use and limitations depends on the kind alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from embodied_ai.model_registry.store import Artefact, ModelKind, ModelVersion


@dataclass(frozen=True)
class KindText:
    model_type: str
    pipeline_tag: str           # the Hugging Face task
    direct_use: str
    out_of_scope: str
    limitations: str


KIND_TEXT: dict[ModelKind, KindText] = {
    ModelKind.EXPERT_ADAPTER: KindText(
        model_type="LoRA adapter of a domain expert, applied to the shared base model",
        pipeline_tag="text-generation",
        direct_use="Answering the prompts of its expert's domain in this robot runtime: the router sends the expert "
                   "the prompts it classifies into that domain, and the serving engine applies this adapter to the "
                   "shared base model for those requests.",
        out_of_scope="Use without its base model (an adapter alone is not a model); prompts outside its expert's "
                     "domain; acting on the robot without the runtime's checks (actions are validated against a "
                     "schema and the safety contract before anything moves).",
        limitations="A small adapter trained on a small dataset: its quality is what the Evaluation section "
                    "measured on the data recorded there, and nothing beyond it. The base model's license, "
                    "limitations and biases carry over; a merged or GGUF export contains the base model's weights."),
    ModelKind.EXPERT_MODEL: KindText(
        model_type="Domain expert that is a language model of its own",
        pipeline_tag="text-generation",
        direct_use="Answering the prompts of its expert's domain in this robot runtime, as routed by the router.",
        out_of_scope="Open-ended conversation or prompts outside its expert's domain; acting on the robot without "
                     "the runtime's checks (actions are validated against a schema and the safety contract before "
                     "anything moves).",
        limitations="A small model trained on a small dataset: its quality is what the Evaluation section measured "
                    "on the data recorded there, and nothing beyond it."),
    ModelKind.PIPELINE_OUTPUT: KindText(
        model_type="Language model produced by a fine-tuning pipeline",
        pipeline_tag="text-generation",
        direct_use="The task of the dataset it was fine-tuned on, served by this runtime or downloaded in one of "
                   "the exports listed below.",
        out_of_scope="Tasks unlike its training data; acting on the robot without the runtime's checks; any use "
                     "the base model's own license or card rules out.",
        limitations="Its quality is what the Evaluation section measured on the data recorded there, and nothing "
                    "beyond it. The base model's license, limitations and biases carry over; a merged or GGUF export "
                    "contains the base model's weights."),
    ModelKind.POLICY: KindText(
        model_type="Control policy of a robot skill",
        pipeline_tag="robotics",
        direct_use="Running the skill it was trained for as a deployed policy node, which commands the joints only "
                   "through the servo controller's safety contract.",
        out_of_scope="Commanding actuators directly, bypassing the servo controller; robots, tasks or environments "
                     "other than the one it was trained in.",
        limitations="Trained in the simulator's environments: behaviour on hardware is not established by this "
                    "card unless a metric below measured it."),
    ModelKind.DETECTOR: KindText(
        model_type="Object detector for the robot's perception",
        pipeline_tag="object-detection",
        direct_use="Detecting the object classes it was trained on in the robot's camera frames.",
        out_of_scope="Identifying people; being the only safeguard of a safety-relevant decision.",
        limitations="Detection quality depends on the lighting, viewpoints and classes of its training data; only "
                    "the metrics below say how well it does, on the data recorded there."),
}


def model_card(model: ModelVersion) -> str:
    """The version's card (Markdown with YAML front matter)."""
    text = KIND_TEXT[model.kind]
    parts = [_front_matter(model, text), f"# {model.name}", "",
             f"Version {model.version} of `{model.name}` (model id `{model.id}`). {text.model_type}.", ""]
    parts += _details(model, text)
    parts += ["## Uses", "", "### Direct Use", "", text.direct_use, "", "### Out-of-Scope Use", "",
              text.out_of_scope, "", "## Bias, Risks, and Limitations", "", text.limitations, ""]
    if not _recorded(model.metrics):
        parts += ["No evaluation metrics were recorded for this version: its quality has not been measured.", ""]
    parts += _get_started(model)
    parts += _training(model)
    parts += _evaluation(model)
    parts += _exports(model)
    return "\n".join(parts).rstrip("\n") + "\n"


def _front_matter(model: ModelVersion, text: KindText) -> str:
    lines = ["---", f"license: {model.license}"]
    if model.base_model:
        lines.append(f"base_model: {json.dumps(model.base_model)}")
    if model.kind is ModelKind.EXPERT_ADAPTER or model.artefact("adapter") is not None:
        lines.append("library_name: peft")
    lines.append(f"pipeline_tag: {text.pipeline_tag}")
    tags = ["embodied-ai", model.kind.value]
    method = model.training_config.get("method")
    if isinstance(method, str) and method:
        tags.append(method)
    tags += [f for f in ("gguf", "onnx") if any(a.format.startswith(f) for a in model.artefacts)]
    lines.append("tags:")
    lines += [f"- {json.dumps(tag)}" for tag in dict.fromkeys(tags)]
    lines += ["---", ""]
    return "\n".join(lines)


def _details(model: ModelVersion, text: KindText) -> list[str]:
    lines = ["## Model Details", "", "### Model Description", ""]
    if model.description:
        lines += [model.description, ""]
    lines += [
        f"- **Model id:** `{model.id}`",
        f"- **Name and version:** `{model.ref}`",
        f"- **Model type:** {text.model_type}",
        f"- **Status:** {model.status.value}",
        f"- **Fine-tuned from:** `{model.base_model}`" if model.base_model
        else "- **Fine-tuned from:** no base model was recorded",
        f"- **License:** {model.license}",
        f"- **Registered:** {model.created_at}",
        "",
    ]
    return lines


def _get_started(model: ModelVersion) -> list[str]:
    lines = ["## How to Get Started with the Model", ""]
    if not model.artefacts:
        return [*lines, "No exports have been recorded for this version yet.", ""]
    lines += ["Download an export from the Robot API:", "", "```"]
    lines += [f"GET /v1/models/{model.id}/download?format={a.format}" for a in model.artefacts]
    return [*lines, "```", ""]


def _training(model: ModelVersion) -> list[str]:
    source = model.source
    data = []
    if source.dataset_id is not None:
        data.append(f"- **Dataset:** `{source.dataset_id}`")
    if source.run_id is not None:
        data.append(f"- **Pipeline run:** `{source.run_id}`")
    if source.job_id is not None:
        data.append(f"- **Job:** {source.job_id}")
    if source.expert_id is not None:
        data.append(f"- **Expert:** {source.expert_id}, version {source.expert_version}")
    lines = ["## Training Details", "", "### Training Data", ""]
    lines += [*data, ""] if data else ["No dataset was recorded for this version.", ""]
    lines += ["### Training Procedure", "", "#### Training Hyperparameters", ""]
    settings = [(k, v) for k, v in _flatten(model.training_config) if v is not None]
    if not settings:
        return [*lines, "No training configuration was recorded.", ""]
    lines += ["| Setting | Value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(_value(v))} |" for k, v in settings]
    return [*lines, ""]


def _evaluation(model: ModelVersion) -> list[str]:
    lines = ["## Evaluation", "", "### Results", ""]
    measured = [(k, v) for k, v in _flatten(model.metrics) if v is not None]
    if not measured:
        return [*lines, "No evaluation metrics were recorded for this version.", ""]
    lines += ["| Metric | Value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(_value(v))} |" for k, v in measured]
    return [*lines, ""]


def _exports(model: ModelVersion) -> list[str]:
    lines = ["## Exports", ""]
    if not model.artefacts:
        return [*lines, "No exports have been recorded yet.", ""]
    lines += ["| Format | Size | SHA-256 |", "|---|---|---|"]
    lines += [f"| {a.format} | {_size(a)} | `{a.sha256}` |" for a in model.artefacts]
    if any(a.is_dir for a in model.artefacts):
        lines += ["", "A folder's SHA-256 is that of its sorted lines `<relative path>\\0<file SHA-256>\\n`."]
    return [*lines, ""]


def _recorded(values: dict[str, Any]) -> bool:
    return any(v is not None for _, v in _flatten(values))


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested objects as dotted keys, in the recorded order."""
    flat: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat += _flatten(value, f"{name}.")
        else:
            flat.append((name, value))
    return flat


def _value(value: Any) -> str:
    """A recorded value as written (JSON's spelling: the exact number, true/false)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _size(artefact: Artefact) -> str:
    size = float(artefact.bytes)
    exact = f"{artefact.bytes:,} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000.0
        if size < 1000.0 or unit == "TB":
            return exact if artefact.bytes < 1000 else f"{exact} ({size:.1f} {unit})"
    return exact
