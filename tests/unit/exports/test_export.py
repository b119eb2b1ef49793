"""Each export format of a tiny llama + LoRA adapter (and of a tiny fully trained model), proved
by loading it back with the library that consumes it."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.exports import export as export_module
from embodied_ai.exports.export import export, load_export, write_archive
from embodied_ai.exports.formats import ExportFailed

from .conftest import TinyModels, corrupt_tensor, logits

PROMPT = "the robot picks up the red cube"


def _base(tiny: TinyModels) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny.base_dir, dtype=torch.float32).eval()


def test_adapter_loads_back_with_peft_and_gives_the_adapted_logits(tiny: TinyModels, tmp_path: Path) -> None:
    from peft import PeftModel

    result = export("adapter", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "adapter")
    assert result.path == tmp_path / "adapter"
    assert result.files == ("adapter_config.json", "adapter_model.safetensors")
    assert result.checks["tensors"] == 2 * 7 * 2    # A and B, 7 projections, 2 layers
    assert load_export(result.path) == result
    reloaded = PeftModel.from_pretrained(_base(tiny), str(result.path)).eval()
    expected = logits(tiny.adapted, tiny.tokenizer, PROMPT)
    assert float((logits(reloaded, tiny.tokenizer, PROMPT) - expected).abs().max()) < 1e-6


def test_merged_loads_with_transformers_and_matches_the_adapted_model(tiny: TinyModels, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = export("merged", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "merged")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(result.files)
    merged = AutoModelForCausalLM.from_pretrained(result.path, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(result.path)
    expected = logits(tiny.adapted, tiny.tokenizer, PROMPT)
    assert float((logits(merged, tokenizer, PROMPT) - expected).abs().max()) < 1e-4
    # The adapter really acts: the merged model is not the base.
    assert float((logits(_base(tiny), tiny.tokenizer, PROMPT) - expected).abs().max()) > 1e-2
    assert result.checks["max_abs_logit_diff"] <= result.checks["tolerance"]


@pytest.mark.parametrize("tensor_type", ["F16", "Q8_0"])
def test_gguf_round_trips_within_its_tensor_types_tolerance(tiny: TinyModels, tmp_path: Path,
                                                             tensor_type: str) -> None:
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    result = export("gguf", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "gguf",
                    gguf_tensor_type=tensor_type, name="tiny")
    checks = result.checks
    assert result.path == tmp_path / "gguf" / "model.gguf" and result.files == ("model.gguf",)
    assert checks["passed"] and checks["tensor_type"] == tensor_type and checks["tokenizer_match"]
    assert checks["weights_out_of_bound"] == [] and checks["weights_checked"] == 21
    assert checks["max_abs_logit_diff"] <= checks["tolerance"]
    assert checks["top1_agreement_clear_margin"] == 1.0 and checks["clear_margin_positions"] > 0
    assert checks["tensor_types"][tensor_type] == 16 and checks["tensor_types"]["F32"] == 5   # norms stay F32
    # Independently of the export's own check: the file against the adapted (unmerged) model.
    loaded = AutoModelForCausalLM.from_pretrained(str(result.path.parent), gguf_file=result.path.name,
                                                  dtype=torch.float32).eval()
    expected = logits(tiny.adapted, tiny.tokenizer, PROMPT)
    assert float((logits(loaded, tiny.tokenizer, PROMPT) - expected).abs().max()) <= checks["tolerance"]
    reader = gguf.GGUFReader(str(result.path))
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["general.name"].contents() == "tiny"
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == len(tiny.tokenizer)
    assert "output.weight" in {t.name for t in reader.tensors}       # the base's head is untied


def test_onnx_adapter_holds_the_peft_weights_as_the_base_graph_takes_them(tiny: TinyModels, tmp_path: Path) -> None:
    import onnxruntime as ort

    result = export("onnx_adapter", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir,
                    out_dir=tmp_path / "onnx")
    assert result.path.name == "adapter.onnx_adapter" and result.checks["max_abs_diff_vs_peft"] == 0.0
    reader = ort.AdapterFormat.read_adapter(str(result.path))   # its OrtValues view its buffer: copy them
    parameters = {k: np.array(v.numpy(), copy=True) for k, v in reader.get_parameters().items()}
    assert len(parameters) == 28
    # x·A·B on the ONNX side is PEFT's delta weight: (A_onnx · B_onnx)ᵀ = scaling · B · A.
    layers = tiny.adapted.base_model.model.model.layers
    for layer, group, module in ((0, "attn", "q_proj"), (1, "mlp", "down_proj")):
        prefix = f"model.layers.{layer}.{group}.{module}"
        delta = (parameters[f"{prefix}.lora_A.MatMul.weight"] @ parameters[f"{prefix}.lora_B.MatMul.weight"]).T
        owner = layers[layer].self_attn if group == "attn" else layers[layer].mlp
        peft_delta = getattr(owner, module).get_delta_weight("default").detach().numpy()
        assert np.abs(delta - peft_delta).max() < 1e-6


def test_onnx_adapter_for_a_base_without_those_inputs_is_refused(tiny: TinyModels, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="does not fit the served ONNX base"):
        export("onnx_adapter", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "o",
               base_inputs={"model.layers.0.attn.q_proj.lora_A.MatMul.weight"})
    assert not (tmp_path / "o").exists()


def test_a_fully_trained_model_exports_merged_and_gguf_but_no_adapter(tiny: TinyModels, tmp_path: Path) -> None:
    import gguf

    merged = export("merged", base_hf_dir=tiny.base_dir, model_dir=tiny.full_dir, out_dir=tmp_path / "merged")
    assert "tokenizer.json" in merged.files and merged.checks["max_abs_logit_diff"] == 0.0
    result = export("gguf", base_hf_dir=tiny.base_dir, model_dir=tiny.full_dir, out_dir=tmp_path / "gguf")
    assert result.checks["passed"]
    assert "output.weight" not in {t.name for t in gguf.GGUFReader(str(result.path)).tensors}  # tied head
    for format in ("adapter", "onnx_adapter"):
        with pytest.raises(InvalidRequest, match="fully trained"):
            export(format, base_hf_dir=tiny.base_dir, model_dir=tiny.full_dir, out_dir=tmp_path / format)
        assert not (tmp_path / format).exists()


def test_bad_requests_are_refused_with_every_problem(tiny: TinyModels, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="unknown export format"):
        export("pytorch", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "x")
    with pytest.raises(InvalidRequest, match="either adapter_dir"):
        export("merged", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, model_dir=tiny.full_dir,
               out_dir=tmp_path / "x")
    with pytest.raises(InvalidRequest) as refused:
        export("merged", base_hf_dir=None, adapter_dir=tmp_path / "nothing", out_dir=tmp_path / "x")
    assert len(refused.value.problems) == 3          # two PEFT files and the base
    with pytest.raises(InvalidRequest, match="GGUF tensor type"):
        export("gguf", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "x",
               gguf_tensor_type="Q4_K")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_nothing_and_keeps_the_previous_one(tiny: TinyModels, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "gguf"
    previous = export("gguf", base_hf_dir=tiny.base_dir, model_dir=tiny.full_dir, out_dir=out)
    real_write = export_module.write_gguf

    def write_then_corrupt(*args: Any, **kwargs: Any) -> dict[str, int]:
        """The real writer, then a disk fault: the token embeddings' first bytes are lost."""
        counts = real_write(*args, **kwargs)
        corrupt_tensor(args[2], "token_embd.weight")
        return counts

    monkeypatch.setattr(export_module, "write_gguf", write_then_corrupt)
    with pytest.raises(ExportFailed) as failed:
        export("gguf", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=out)
    assert failed.value.checks["weights_out_of_bound"] == ["model.embed_tokens.weight"]
    assert [p.name for p in tmp_path.iterdir()] == ["gguf"]          # no scratch folder left
    assert load_export(out) == previous                               # the earlier export is intact
    with pytest.raises(ExportFailed):
        export("gguf", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_a_folder_export_downloads_as_a_reproducible_tar(tiny: TinyModels, tmp_path: Path) -> None:
    result = export("adapter", base_hf_dir=tiny.base_dir, adapter_dir=tiny.adapter_dir, out_dir=tmp_path / "a")
    first = write_archive(result, tmp_path / "one.tar")
    second = write_archive(result, tmp_path / "two.tar")
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        assert archive.getnames() == list(result.files)
        config = archive.extractfile("adapter_config.json")
        assert config is not None and json.load(config)["r"] == 4
    assert "export.json" not in result.files

