"""PEFT LoRA adapters → ``.onnx_adapter`` files that the shared ONNX base takes as inputs.

The base graph (``base_build``) has one float input per LoRA weight, named like
``model.layers.8.attn.q_proj.lora_A.MatMul.weight`` with shape [in, rank] (A) or
[rank, out] (B). PEFT stores ``lora_A.weight`` as [rank, in] and ``lora_B.weight`` as
[out, rank] and scales the product by alpha / rank at run time; the ONNX graph has no
scaling node, so B is transposed and pre-multiplied by alpha / rank here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

_PEFT_KEY = re.compile(r"layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_([AB])\.weight$")
_ONNX_GROUP = {"self_attn": "attn", "mlp": "mlp"}


def peft_to_onnx_tensors(adapter_dir: Path, base_inputs: set[str] | None = None) -> dict[str, np.ndarray]:
    """The adapter's weights keyed by the base graph's input names, ready to feed."""
    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    scaling = float(config["lora_alpha"]) / float(config["r"])
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    tensors: dict[str, np.ndarray] = {}
    for key, value in weights.items():
        match = _PEFT_KEY.search(key)
        if match is None:
            raise ValueError(f"{adapter_dir}: unexpected adapter tensor {key}")
        layer, group, proj, ab = match.groups()
        name = f"model.layers.{layer}.{_ONNX_GROUP[group]}.{proj}.lora_{ab}.MatMul.weight"
        if base_inputs is not None and name not in base_inputs:
            raise ValueError(f"the base graph has no LoRA input {name}: rebuild the base with this module")
        matrix = value.astype(np.float32)
        tensors[name] = np.ascontiguousarray(matrix.T if ab == "A" else (matrix * scaling).T)
    return tensors


def write_onnx_adapter(adapter_dir: Path, out_path: Path, base_inputs: set[str] | None = None) -> Path:
    """Write ``out_path`` (.onnx_adapter) from a PEFT adapter folder."""
    import onnxruntime as ort

    parameters = {name: ort.OrtValue.ortvalue_from_numpy(array)
                  for name, array in peft_to_onnx_tensors(adapter_dir, base_inputs).items()}
    adapter = ort.AdapterFormat()
    adapter.set_adapter_version(1)
    adapter.set_model_version(1)
    adapter.set_parameters(parameters)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    adapter.export_adapter(str(out_path))
    return out_path


def compact_peft_adapter(adapter_dir: Path, out_dir: Path) -> None:
    """Copy a PEFT adapter with its weights in float16 (half the bytes) for committing."""
    from safetensors.numpy import load_file, save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    save_file({k: v.astype(np.float16) for k, v in weights.items()}, str(out_dir / "adapter_model.safetensors"))
    (out_dir / "adapter_config.json").write_text((adapter_dir / "adapter_config.json").read_text())
