"""A llama-architecture Hugging Face model → one GGUF file, and the check that proves it.

Written with the ``gguf`` package the way llama.cpp's ``convert_hf_to_gguf.py`` writes a llama:
tensor names from ``gguf``'s own name map (``blk.N.attn_q.weight`` ...), the Q and K
projections permuted into llama.cpp's rotary layout, 1-D tensors (the norms) kept F32, the
output head left out when it is tied to the embeddings. The tokenizer goes in as
``tokenizer.ggml.*`` metadata: copied verbatim from a source GGUF when one is given (the shared
base came from one, and llama.cpp then pre-tokenizes exactly as the original), else built from
the folder's GPT-2-style BPE ``tokenizer.json``.

The proof (``check_gguf``) loads the file back with transformers' own GGUF loader (an
independent reader: its own name mapping and un-permutation) and compares logits with the
model the file was written from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embodied_ai.errors import InvalidRequest
from embodied_ai.exports.formats import ExportFailed

# Short prompts for the logit comparison: chat, arithmetic, code and robot commands.
CHECK_PROMPTS: tuple[str, ...] = (
    "The robot picks up the red cube and puts it in the box.",
    "What is 12 + 30? The answer is",
    "def add(a, b):\n    return a + b",
    "<|im_start|>user\nmove forward one metre<|im_end|>\n<|im_start|>assistant\n",
)


@dataclass(frozen=True)
class GgufType:
    """A tensor type the export can write for the 2-D weights, and the bounds its check holds.

    Two bounds. Per weight (exact, from how the type rounds): F16 rounds to nearest with 11
    significant bits, |Δw| ≤ 2^-11·|w| (+2^-25 below F16's normal range); Q8_0 stores blocks of
    32 as round(w/d) with d = amax/127 kept as F16, |Δw| ≤ d/2 + 127·2^-11·d < 0.57·d (+127·2^-25
    when d is below F16's normal range). Per logit (statistical): ``max |Δlogit| ≤ rtol · max(1,
    max |logit|)`` with ``rtol`` = 8 × the type's RMS relative rounding error (F16: 2^-11/√3 ≈
    2.8e-4; Q8_0: (2.75/127)/√12 ≈ 6.3e-3, a block of 32 Gaussian weights having amax ≈ 2.75σ).
    Measured on SmolLM2-135M with the math adapter merged, the logits moved ≈3× the RMS error
    (F16: 8.2e-4, Q8_0: 2.1e-2 of the logit scale), so 8× leaves more than twice that.
    """

    name: str
    file_type: int                      # general.file_type (llama.cpp's LlamaFileType)
    rtol: float
    why: str


GGUF_TYPES: dict[str, GgufType] = {t.name: t for t in (
    GgufType("F32", 0, 1e-5, "weights stored exactly; logits equal up to float summation order"),
    GgufType("F16", 1, 2.5e-3, "8 x F16's RMS relative rounding error 2^-11/sqrt(3) = 2.8e-4"),
    GgufType("Q8_0", 7, 5e-2, "8 x Q8_0's RMS relative rounding error (2.75/127)/sqrt(12) = 6.3e-3"),
)}
DEFAULT_GGUF_TYPE = "F16"
Q8_0_BLOCK = 32


def gguf_type(name: str) -> GgufType:
    spec = GGUF_TYPES.get(name)
    if spec is None:
        raise InvalidRequest(f"unknown GGUF tensor type {name!r}; valid: {', '.join(GGUF_TYPES)}",
                             [f"gguf_type: {name!r} is not one of {', '.join(GGUF_TYPES)}"])
    return spec


def llama_problems(config: Any) -> list[str]:
    """Why the model cannot be written as a llama GGUF (empty when it can)."""
    problems = []
    if getattr(config, "model_type", None) != "llama":
        problems.append(f"model_type is {getattr(config, 'model_type', None)!r}; the GGUF export writes llama models")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        problems.append("projection biases are not part of the llama GGUF layout")
    rope = rope_parameters(config)
    if rope.get("rope_type", "default") != "default":
        problems.append(f"rope type {rope.get('rope_type')!r} (scaled rope) is not written to GGUF")
    return problems


def rope_parameters(config: Any) -> dict[str, Any]:
    """transformers 5 keeps rope settings in ``rope_parameters``; older configs in ``rope_theta``."""
    parameters = dict(getattr(config, "rope_parameters", None) or {})
    if "rope_theta" not in parameters:
        parameters["rope_theta"] = float(getattr(config, "rope_theta", 10000.0))
    return parameters


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotary layout → llama.cpp's (convert_hf_to_gguf's ``permute``; transformers' GGUF
    loader reverses it)."""
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:]) \
        .swapaxes(1, 2).reshape(weights.shape)


def write_gguf(model: Any, tokenizer_dir: Path, out_path: Path, tensor_type: str = DEFAULT_GGUF_TYPE,
               tokenizer_gguf: Path | None = None, name: str = "") -> dict[str, int]:
    """Write ``model`` (a transformers LlamaForCausalLM) to ``out_path``; the count of tensors
    per GGML type."""
    import gguf

    spec = gguf_type(tensor_type)
    config = model.config
    problems = llama_problems(config)
    if problems:
        raise InvalidRequest("this model cannot be exported as GGUF", problems)
    n_layers, n_head = int(config.num_hidden_layers), int(config.num_attention_heads)
    n_kv_head = int(getattr(config, "num_key_value_heads", None) or n_head)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // n_head)
    tied = bool(getattr(config, "tie_word_embeddings", False))

    writer = gguf.GGUFWriter(str(out_path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_type(gguf.GGUFType.MODEL)
    if name:
        writer.add_name(name)
    writer.add_vocab_size(int(config.vocab_size))
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv_head)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope_parameters(config)["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_file_type(spec.file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_tokenizer(writer, tokenizer_dir, int(config.vocab_size), tokenizer_gguf)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    counts: dict[str, int] = {}
    for key, tensor in model.state_dict().items():
        if tied and key == "lm_head.weight":
            continue                    # llama.cpp reuses token_embd when output.weight is absent
        gguf_name = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportFailed(f"GGUF export: no llama GGUF name for tensor {key}")
        weights = tensor.detach().float().cpu().numpy()
        if gguf_name.endswith("attn_q.weight"):
            weights = _permute(weights, n_head)
        elif gguf_name.endswith("attn_k.weight"):
            weights = _permute(weights, n_kv_head)
        ggml_type = _add_tensor(writer, gguf_name, np.ascontiguousarray(weights), spec.name)
        counts[ggml_type] = counts.get(ggml_type, 0) + 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return counts


def stored_type(shape: tuple[int, ...], tensor_type: str) -> str:
    """The GGML type a tensor of ``shape`` is written as when the file's type is ``tensor_type``."""
    # Norm vectors stay F32 in every llama.cpp file type; they are tiny and precision-critical.
    if len(shape) == 1 or tensor_type == "F32":
        return "F32"
    if tensor_type == "Q8_0" and shape[-1] % Q8_0_BLOCK == 0:
        return "Q8_0"
    # F16, and Q8_0's fallback for a row length that is not a multiple of its block (as llama.cpp does).
    return "F16"


def _add_tensor(writer: Any, name: str, weights: np.ndarray, tensor_type: str) -> str:
    import gguf

    stored = stored_type(weights.shape, tensor_type)
    if stored == "F32":
        writer.add_tensor(name, weights.astype(np.float32))
    elif stored == "Q8_0":
        quantized = gguf.quants.quantize(weights.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor(name, weights.astype(np.float16))
    return stored


def weight_error_bound(weights: np.ndarray, stored: str) -> np.ndarray:
    """The largest |Δw| storing ``weights`` as ``stored`` may cause, per weight (see GgufType)."""
    if stored == "F32":
        return np.zeros_like(weights)
    if stored == "F16":
        return np.abs(weights) * 2.0 ** -11 + 2.0 ** -25
    blocks = np.abs(weights).reshape(*weights.shape[:-1], -1, Q8_0_BLOCK)
    step = blocks.max(axis=-1, keepdims=True) / 127.0
    # The F16 scale's own rounding, times up to 127: relative 2^-11, or absolute 2^-25 once subnormal.
    return np.broadcast_to(0.57 * step + 127 * 2.0 ** -25, blocks.shape).reshape(weights.shape)


def _add_tokenizer(writer: Any, tokenizer_dir: Path, vocab_size: int, source: Path | None) -> None:
    if source is not None:
        _copy_tokenizer_fields(writer, source, tokenizer_dir)
        return
    import gguf
    from transformers import AutoTokenizer

    tokenizer_json = tokenizer_dir / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise InvalidRequest("GGUF export needs a fast tokenizer (tokenizer.json)", [f"{tokenizer_json} is missing"])
    spec = json.loads(tokenizer_json.read_text())
    if spec.get("model", {}).get("type") != "BPE" or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise InvalidRequest("GGUF export builds tokenizer metadata for GPT-2-style byte-level BPE tokenizers only",
                             ["tokenizer.json is not a byte-level BPE; pass the source GGUF of the tokenizer"])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    known: list[str | None] = list(tokenizer.convert_ids_to_tokens(list(range(vocab_size))))
    added = dict(tokenizer.added_tokens_decoder)
    tokens, types = [], []
    for index, token in enumerate(known):
        # An embedding row with no token (a vocabulary padded for speed) gets a placeholder.
        tokens.append(token if token is not None else f"[PAD{index}]")
        if token is None:
            types.append(gguf.TokenType.UNUSED)
        elif index in added:
            types.append(gguf.TokenType.CONTROL if added[index].special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    # llama.cpp picks its pre-tokenizer regex by name; "default" is its GPT-2 one.
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(tokenizer_dir, load_merges=True, n_vocab=vocab_size).add_to_gguf(writer, quiet=True)


def _copy_tokenizer_fields(writer: Any, source: Path, tokenizer_dir: Path) -> None:
    """Every ``tokenizer.*`` field of ``source``, after checking its vocabulary is the folder's."""
    import gguf
    from transformers import AutoTokenizer

    reader = gguf.GGUFReader(str(source))
    fields = {key: field for key, field in reader.fields.items() if key.startswith("tokenizer.")}
    if "tokenizer.ggml.tokens" not in fields:
        raise InvalidRequest(f"{source} holds no tokenizer", ["tokenizer_gguf has no tokenizer.ggml.tokens"])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    vocabulary = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    if list(fields["tokenizer.ggml.tokens"].contents()) != vocabulary:
        raise InvalidRequest("the source GGUF's tokenizer is not the model's",
                             [f"{source}: its token list differs from the tokenizer in {tokenizer_dir}"])
    for key, field in fields.items():
        value_type = field.types[0]
        sub_type = field.types[1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), value_type, sub_type)


def check_gguf(path: Path, reference: Any, tokenizer: Any, tensor_type: str,
               prompts: tuple[str, ...] = CHECK_PROMPTS) -> dict[str, Any]:
    """Load ``path`` back with transformers' GGUF loader and compare its logits with
    ``reference``'s on ``prompts``; the figures, or ExportFailed when they are out of bounds.

    Passes when ``max |Δlogit| ≤ rtol · max(1, max |logit|)`` for the tensor type and the top-1
    token agrees at every position whose reference top-1/top-2 margin exceeds twice that bound
    (nearer ties may flip legitimately at that precision).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = gguf_type(tensor_type)
    try:
        loaded = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        gguf_tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not usable
        raise ExportFailed(f"GGUF check: {path.name} does not load back: {type(exc).__name__}: {exc}") from exc
    loaded.eval()
    reference.eval()
    weights = _compare_weights(reference, loaded, tensor_type)
    pairs = []
    tokenizer_match = True
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
            tokenizer_match &= gguf_tokenizer(prompt, add_special_tokens=False)["input_ids"] == ids[0].tolist()
            pairs.append((reference(input_ids=ids).logits[0].float(), loaded(input_ids=ids).logits[0].float()))
    expected = torch.cat([e for e, _ in pairs])
    got = torch.cat([g for _, g in pairs])
    largest = float(expected.abs().max())
    max_abs = float((expected - got).abs().max())
    bound = spec.rtol * max(1.0, largest)
    same = expected.argmax(-1) == got.argmax(-1)
    top2 = expected.topk(2, dim=-1).values
    # A logit moved by at most ``bound`` can flip the top-1 only where the margin is ≤ 2·bound.
    decided = (top2[:, 0] - top2[:, 1]) > 2 * bound
    positions, n_decided = int(same.numel()), int(decided.sum())
    decided_agreeing = int((same & decided).sum())
    checks: dict[str, Any] = {
        **weights, "tensor_type": spec.name, "prompts": len(prompts), "positions": positions,
        "max_abs_logit_diff": max_abs, "logit_scale": largest, "tolerance": bound, "rtol": spec.rtol,
        "tolerance_basis": spec.why, "top1_agreement": int(same.sum()) / max(1, positions),
        "clear_margin_positions": n_decided, "top1_agreement_clear_margin": decided_agreeing / max(1, n_decided),
        "tokenizer_match": bool(tokenizer_match),
    }
    failures = [f"{n} weight(s) outside the {spec.name} rounding bound: {', '.join(weights['weights_out_of_bound'])}"
                for n in [len(weights["weights_out_of_bound"])] if n]
    if not max_abs <= bound:            # also catches NaN
        failures.append(f"max |Δlogit| {max_abs:.3g} > tolerance {bound:.3g} ({spec.name})")
    if decided_agreeing != n_decided:
        failures.append(f"top-1 differs at {n_decided - decided_agreeing} of {n_decided} clear-margin positions")
    if not tokenizer_match:
        failures.append("the tokenizer read back from the GGUF encodes the prompts differently")
    checks["passed"] = not failures
    if failures:
        raise ExportFailed(f"GGUF check failed for {path.name}: " + "; ".join(failures), checks=checks)
    return checks


def _compare_weights(reference: Any, loaded: Any, tensor_type: str) -> dict[str, Any]:
    """Every weight read back against the one written, within the rounding bound of the type
    it was stored as: catches a wrong name, a wrong permutation, a missing or corrupted tensor
    (the loader leaves a tensor it did not find randomly initialised)."""
    expected, got = reference.state_dict(), loaded.state_dict()
    out_of_bound = sorted(set(expected) ^ set(got))
    worst = 0.0
    for key in sorted(set(expected) & set(got)):
        want = expected[key].detach().float().cpu().numpy()
        have = got[key].detach().float().cpu().numpy()
        error = np.abs(have - want) if have.shape == want.shape else np.full(want.shape, np.inf)
        if not np.all(error <= weight_error_bound(want, stored_type(want.shape, tensor_type))):
            out_of_bound.append(key)
        worst = max(worst, float(error.max()) if error.size else 0.0)
    return {"weights_checked": len(expected), "max_abs_weight_diff": worst, "weights_out_of_bound": out_of_bound}
