"""The tiny llama of `tests.unit.tiny_models` (a base, a LoRA adapter on it whose B matrices are not zero,
so merging really changes the logits, and a tiny fully trained model that reuses the base's tokenizer, as
a scratch training job leaves it), plus helpers of the export tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.tiny_models import TinyModels, build_tiny_models

__all__ = ["TinyModels", "corrupt_tensor", "logits"]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return build_tiny_models(tmp_path_factory.mktemp("tiny"))


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
