"""The GGUF writer and its check on their own: rounding bounds, a corrupted or truncated file,
tokenizer metadata copied from a source GGUF, models that are not llamas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.exports.formats import ExportFailed
from embodied_ai.exports.gguf_io import check_gguf, llama_problems, stored_type, weight_error_bound, write_gguf

from .conftest import TinyModels, corrupt_tensor


def _full(tiny: TinyModels) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny.full_dir, dtype=torch.float32).eval()


@pytest.mark.parametrize("tensor_type", ["F16", "Q8_0"])
def test_rounding_stays_within_the_stated_per_weight_bound(tensor_type: str) -> None:
    import gguf

    weights = np.random.default_rng(0).normal(0.0, 0.05, (8, 64)).astype(np.float32)
    weights[0, :32] *= 1e-6            # a block of tiny weights (F16 subnormals, a small Q8_0 scale)
    stored = stored_type(weights.shape, tensor_type)
    if stored == "Q8_0":
        qtype = gguf.GGMLQuantizationType.Q8_0
        back = gguf.quants.dequantize(gguf.quants.quantize(weights, qtype), qtype)
    else:
        back = weights.astype(np.float16).astype(np.float32)
    assert np.all(np.abs(back - weights) <= weight_error_bound(weights, stored))
    assert stored_type((64,), tensor_type) == "F32" and stored_type((8, 31), "Q8_0") == "F16"


def test_a_corrupted_gguf_is_detected(tiny: TinyModels, tmp_path: Path) -> None:
    model = _full(tiny)
    path = tmp_path / "model.gguf"
    write_gguf(model, tiny.base_dir, path)
    assert check_gguf(path, model, tiny.tokenizer, "F16")["passed"]
    corrupt_tensor(path, "blk.1.attn_k.weight")
    with pytest.raises(ExportFailed, match="outside the F16 rounding bound") as failed:
        check_gguf(path, model, tiny.tokenizer, "F16")
    assert failed.value.checks["weights_out_of_bound"] == ["model.layers.1.self_attn.k_proj.weight"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ExportFailed, match="does not load back"):
        check_gguf(path, model, tiny.tokenizer, "F16")


def test_tokenizer_metadata_is_copied_from_a_source_gguf_only_when_it_is_the_same(tiny: TinyModels,
                                                                                  tmp_path: Path) -> None:
    import gguf

    model = _full(tiny)
    source, copy = tmp_path / "source.gguf", tmp_path / "copy.gguf"
    write_gguf(model, tiny.base_dir, source)
    source_fields = {k: f.contents() for k, f in gguf.GGUFReader(str(source)).fields.items()
                     if k.startswith("tokenizer.")}
    write_gguf(model, tiny.base_dir, copy, tokenizer_gguf=source)
    copied = {k: f.contents() for k, f in gguf.GGUFReader(str(copy)).fields.items() if k.startswith("tokenizer.")}
    assert copied == source_fields and copied["tokenizer.ggml.model"] == "gpt2"
    assert check_gguf(copy, model, tiny.tokenizer, "F16")["tokenizer_match"]

    from transformers import AutoTokenizer

    other = tmp_path / "other_tokenizer"
    tokenizer = AutoTokenizer.from_pretrained(tiny.base_dir)
    tokenizer.add_tokens(["<robot>"])
    tokenizer.save_pretrained(other)
    with pytest.raises(InvalidRequest, match="not the model's"):
        write_gguf(model, other, tmp_path / "mismatch.gguf", tokenizer_gguf=source)


def test_only_plain_llamas_are_written(tiny: TinyModels) -> None:
    from transformers import LlamaConfig, MistralConfig

    assert llama_problems(_full(tiny).config) == []
    scaled_rope = {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}
    assert len(llama_problems(LlamaConfig(attention_bias=True, rope_parameters=scaled_rope))) == 2
    assert "model_type" in llama_problems(MistralConfig())[0]
