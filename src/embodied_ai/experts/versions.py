"""Trained weights → an expert's new current version (what both default experts and training
jobs register).

An adapter (a PEFT LoRA folder) is converted to the ONNX adapter the engine switches per request;
a model trained from scratch is built to ONNX by ORT GenAI's builder at the expert's quantization
and served as a model of its own.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from embodied_ai.experts.adapters import write_onnx_adapter
from embodied_ai.experts.base_build import BaseRecipe, BuiltBase, run_builder
from embodied_ai.experts.registry import ExpertRegistry

# The builder's precision per registry quantization. The CPU execution provider has no fp16
# kernels, so FP16 experts are built at fp32 here.
PRECISION = {"Q8": "int8", "Q4": "int4", "FP16": "fp32"}


class VersionWriter:
    def __init__(self, registry: ExpertRegistry, base: BuiltBase) -> None:
        self.registry, self.base = registry, base

    def add_adapter(self, name: str, peft_dir: Path, metrics: dict[str, Any], note: str) -> int:
        """A LoRA folder as ``name``'s new current version; returns the version number."""
        with tempfile.TemporaryDirectory() as scratch:
            adapter = write_onnx_adapter(peft_dir, Path(scratch) / "adapter.onnx_adapter", set(self.base.lora_inputs))
            self.registry.add_version(name, "adapter", adapter, config={"peft": str(peft_dir)}, metrics=metrics,
                                      note=note)
        return self.registry.get(name).current_version

    def add_model(self, name: str, hf_dir: Path, shape: dict[str, int], metrics: dict[str, Any], note: str) -> int:
        """A model trained from scratch → ONNX (at the expert's quantization) → ``name``'s new current
        version, whose config takes the new shape; returns the version number."""
        from transformers import AutoTokenizer

        record = self.registry.get(name)
        precision = PRECISION.get(record.quantization, "int8")
        with tempfile.TemporaryDirectory() as scratch:
            model_dir, onnx_dir = Path(scratch) / "hf", Path(scratch) / "model"
            shutil.copytree(hf_dir, model_dir)
            AutoTokenizer.from_pretrained(self.base.train_hf_dir).save_pretrained(model_dir)  # the builder wants it
            run_builder(model_dir, onnx_dir, Path(scratch) / "builder_cache",
                        BaseRecipe(precision=precision, with_lora_inputs=False), adapter_dir=None)
            self.registry.add_version(name, "model", onnx_dir, config={**shape, "precision": precision},
                                      metrics=metrics, note=note)
        self.registry.update(name, config={**{k: v for k, v in record.config.items() if k != "base_model"}, **shape})
        return self.registry.get(name).current_version
