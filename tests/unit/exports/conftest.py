"""A tiny llama (2 layers, hidden 32, a 300-token byte-level BPE tokenizer, fixed seed) and a
LoRA adapter on it whose B matrices are not zero, so merging really changes the logits; plus a
tiny fully trained model that reuses the base's tokenizer, as a scratch training job leaves it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TEXT = ["the robot picks up the red cube and puts it in the box", "hello world, 12 + 30 = 42",
        "def add(a, b):\n    return a + b", "move forward one metre and turn left"]


@dataclass(frozen=True)
class TinyModels:
    base_dir: Path                      # HF folder: config, weights, tokenizer
    adapter_dir: Path                   # PEFT LoRA folder
    full_dir: Path                      # a fully trained model's folder (no tokenizer, like training saves it)
    adapted: Any                        # the in-memory base + adapter (unmerged)
    tokenizer: Any


def _tokenizer(directory: Path) -> Any:
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


def _llama(tokenizer: Any, tied: bool, seed: int) -> Any:
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


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny")
    base_dir, adapter_dir, full_dir = root / "base", root / "adapter", root / "full"
    tokenizer = _tokenizer(base_dir)
    # Untied head like the shared base's training folder (its ONNX head is quantized separately).
    _llama(tokenizer, tied=False, seed=0).save_pretrained(base_dir)
    _llama(tokenizer, tied=True, seed=1).save_pretrained(full_dir)

    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    adapted = get_peft_model(base, lora)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:        # PEFT starts B at zero (a no-op adapter); make it act
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    adapted.eval()
    adapted.save_pretrained(str(adapter_dir))
    return TinyModels(base_dir, adapter_dir, full_dir, adapted, tokenizer)


def logits(model: Any, tokenizer: Any, text: str) -> Any:
    import torch

    with torch.no_grad():
        return model(input_ids=tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]).logits[0]


def corrupt_tensor(path: Path, tensor: str) -> None:
    """Zero the first 64 bytes of ``tensor``'s data in the GGUF file at ``path``."""
    import gguf

    offset = next(t.data_offset for t in gguf.GGUFReader(str(path)).tensors if t.name == tensor)
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(b"\x00" * 64)
