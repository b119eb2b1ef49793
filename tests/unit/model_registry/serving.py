"""The serving engine's side of ``Serving`` over a real expert registry, as the experts node keeps
it (ExpertService.set_loaded): an expert loads only while it is ready, its current version's
files are what is loaded (``name@vN``), and unloading drops every version of the expert. No
model runs here: what the engine does with the files is the experts node's own tests' matter.

Also the registries the model registry's service tests share, in one state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.registry import ExpertRegistry
from embodied_ai.model_registry import ModelRegistry, PerformanceLog
from embodied_ai.model_registry.service import ModelsService
from tests.unit.model_registry.conftest import Clock

SHARED_BASE = "SmolLM2-135M-Instruct"


class RegistryServing:
    def __init__(self, experts: ExpertRegistry) -> None:
        self.experts = experts
        self.loaded: set[str] = set()
        self.refused: set[str] = set()       # experts whose files the engine refuses (a broken adapter)

    def load(self, expert: str) -> str:
        record = self.experts.get(expert)
        if record.status != "ready":
            raise EmbodiedError(f"expert '{record.name}' is {record.status}", ErrorCode.EXPERT_NOT_READY)
        kind, path = self.experts.artifact(record.id)
        if record.name in self.refused or (path is not None and not path.exists()):
            raise EmbodiedError(f"expert '{record.name}': the engine could not load {path}",
                                ErrorCode.INFERENCE_FAILED)
        self.loaded = {n for n in self.loaded if n.split("@")[0] != record.name}
        self.loaded.add(f"{record.name}@v{record.current_version}")
        return f"expert '{record.name}' loaded"

    def unload(self, expert: str) -> str:
        record = self.experts.get(expert)
        gone = {n for n in self.loaded if n.split("@")[0] == record.name}
        self.loaded -= gone
        return f"expert '{record.name}' unloaded" if gone else f"expert '{record.name}' was not loaded"


@dataclass
class Registries:
    """A state directory's expert registry, model registry and performance log, and the service over them."""

    state: Path
    experts: ExpertRegistry
    models: ModelRegistry
    performance: PerformanceLog
    serving: RegistryServing
    service: ModelsService

    @classmethod
    def open(cls, state: Path, clock: Clock | None = None) -> Registries:
        experts = ExpertRegistry(state)
        timing: dict[str, Any] = {"clock": clock} if clock else {}
        models = ModelRegistry(state / "operations.sqlite", **timing)
        performance = PerformanceLog(state / "operations.sqlite", **timing)
        serving = RegistryServing(experts)
        return cls(state, experts, models, performance, serving, ModelsService(models, performance, experts, serving))

    def close(self) -> None:
        self.performance.close()
        self.models.close()
        self.experts.close()

    def adapter_expert(self, name: str, versions: int = 1, **version_fields: Any) -> None:
        """A ready LoRA expert on the shared base with ``versions`` adapter versions (files of distinct bytes)."""
        self.experts.create(name, domain=f"{name} questions", config={"base_model": SHARED_BASE})
        for number in range(1, versions + 1):
            adapter = self.state / "uploads" / f"{name}-{number}" / "adapter.onnx_adapter"
            adapter.parent.mkdir(parents=True, exist_ok=True)
            adapter.write_bytes(f"{name} adapter {number} ".encode() * 100)
            fields = {"config": {"peft": "/tmp/peft", "lora_r": 8}, "metrics": {"final_loss": 1.0 / number},
                      "note": f"trained {number}", **version_fields}
            self.experts.add_version(name, "adapter", adapter, **fields)
        self.experts.set_status(name, "ready")

    def model_expert(self, name: str) -> None:
        """A ready expert that is an ONNX model of its own (a folder)."""
        self.experts.create(name, domain=f"{name} questions", config={"d_model": 64, "n_layers": 2})
        folder = self.state / "uploads" / name / "model"
        (folder / "tokenizer").mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"onnx graph " * 500)
        (folder / "genai_config.json").write_text('{"model": {"type": "llama"}}')
        (folder / "tokenizer" / "tokenizer.json").write_text('{"version": "1.0"}')
        self.experts.add_version(name, "model", folder, config={"d_model": 64, "precision": "int8"},
                                 metrics={"final_loss": 2.5})
        self.experts.set_status(name, "ready")
