"""A tiny llama (2 layers, hidden 32, a 300-token byte-level BPE tokenizer with the ChatML markers, fixed
seed) that tests train, evaluate and export in seconds; shared by the exports' and the pipelines' fixtures.

``build_tiny_models`` also writes a LoRA adapter on it whose B matrices are not zero (so merging really
changes the logits) and a tiny fully trained model that reuses the base's tokenizer, as a scratch training
job leaves it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEXT = ["the robot picks up the red cube and puts it in the box", "hello world, 12 + 30 = 42",
        "def add(a, b):\n    return a + b", "move forward one metre and turn left"]
LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class TinyModels:
    base_dir: Path                      # HF folder: config, weights, tokenizer
    adapter_dir: Path                   # PEFT LoRA folder
    full_dir: Path                      # a fully trained model's folder (no tokenizer, like training saves it)
    adapted: Any                        # the in-memory base + adapter (unmerged)
    tokenizer: Any


def tiny_tokenizer(directory: Path) -> Any:
    """A byte-level BPE of 300 tokens trained on TEXT, saved into ``directory``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(TEXT * 10, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        unk_token="<|endoftext|>", pad_token="<|im_end|>")
    tokenizer.save_pretrained(directory)
    return tokenizer


def tiny_llama(tokenizer: Any, tied: bool, seed: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    # initializer_range 0.1: logits spread over a few units, so the top-1 token is well defined.
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         initializer_range=0.1, tie_word_embeddings=tied,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval()


def build_tiny_base(base_dir: Path) -> Any:
    """Only the base (config, weights, tokenizer) in ``base_dir``; returns its tokenizer."""
    tokenizer = tiny_tokenizer(base_dir)
    # Untied head like the shared base's training folder (its ONNX head is quantized separately).
    tiny_llama(tokenizer, tied=False, seed=0).save_pretrained(base_dir)
    return tokenizer


def build_tiny_models(root: Path) -> TinyModels:
    """The base, an acting LoRA adapter on it and a tiny full model, under ``root``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    base_dir, adapter_dir, full_dir = root / "base", root / "adapter", root / "full"
    tokenizer = build_tiny_base(base_dir)
    tiny_llama(tokenizer, tied=True, seed=1).save_pretrained(full_dir)

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM", target_modules=LORA_MODULES)
    adapted = get_peft_model(base, lora)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:        # PEFT starts B at zero (a no-op adapter); make it act
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    adapted.eval()
    adapted.save_pretrained(str(adapter_dir))
    return TinyModels(base_dir, adapter_dir, full_dir, adapted, tokenizer)


def tiny_lora_inputs(num_layers: int = 2) -> set[str]:
    """The LoRA input names an ONNX base built from the tiny llama would have (every layer, every module), as
    ``experts.adapters`` names them."""
    groups = {"q_proj": "attn", "k_proj": "attn", "v_proj": "attn", "o_proj": "attn", "gate_proj": "mlp",
              "up_proj": "mlp", "down_proj": "mlp"}
    return {f"model.layers.{layer}.{groups[module]}.{module}.lora_{ab}.MatMul.weight"
            for layer in range(num_layers) for module in LORA_MODULES for ab in "AB"}
