"""Optional native TensorRT back end (tensorrt + pycuda), for a Jetson without onnxruntime-gpu.

Importing this module needs ``tensorrt`` and ``pycuda``; nothing else in the runtime imports
it unless a node asks for ``backend: tensorrt``, so the project runs and tests without them.

The engine is built from the ONNX file once and serialised into the cache directory under a
name made of the model's SHA-256, the precision, the TensorRT version and the GPU, so a new
model, a new precision or a TensorRT upgrade rebuilds it and nothing else does:

- ``fp16``: FP16 kernels where TensorRT finds them faster (weights from the fp32 ONNX).
- ``int8``: explicit quantisation: build from the int8 QDQ ONNX (models/<m>/*_int8.onnx),
  whose scales came from the project's calibration set; no TensorRT calibrator needed.
- ``fp32``: no reduced precision.

Uses the name-based tensor API (``set_tensor_address``, ``execute_async_v3``): TensorRT >= 8.5
(JetPack 5.1 and later). Not run on this project's development machines (no GPU there).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pycuda.driver as cuda
import tensorrt as trt

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.perception.runtime import ModelLoadError, default_cache_dir

PRECISIONS = ("fp32", "fp16", "int8")
WORKSPACE_BYTES = 1 << 30


def engine_cache_path(model_bytes: bytes, precision: str, cache_dir: Path, device_name: str) -> Path:
    digest = hashlib.sha256(model_bytes).hexdigest()[:16]
    device = "".join(c if c.isalnum() else "_" for c in device_name)
    return cache_dir / "trt" / f"{digest}_{precision}_trt{trt.__version__}_{device}.engine"


def build_engine(model_bytes: bytes, precision: str, logger: trt.ILogger) -> bytes:
    """Parse the ONNX graph and build a serialised engine at ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; one of {', '.join(PRECISIONS)}")
    builder = trt.Builder(logger)
    flags = 0
    if int(trt.__version__.split(".")[0]) < 10:   # TensorRT 10 has only explicit-batch networks
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelLoadError(f"TensorRT cannot parse the ONNX model: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)   # scales come from the graph's Q/DQ nodes
        config.set_flag(trt.BuilderFlag.FP16)   # layers without Q/DQ may still use FP16
    serialised = builder.build_serialized_network(network, config)
    if serialised is None:
        raise ModelLoadError(f"TensorRT could not build a {precision} engine for this model")
    return bytes(serialised)


class TensorRTBackend:
    """A TensorRT engine with page-locked host buffers and device buffers bound by name."""

    def __init__(self, model_path: Path, input_shape: tuple[int, ...], precision: str | None = None,
                 cache_dir: Path | None = None, device_index: int = 0) -> None:
        precision = precision or ("int8" if "int8" in model_path.name else "fp16")
        cuda.init()
        self._device = cuda.Device(device_index)
        # The primary context, pushed around every call: the node runs inference on a worker thread.
        self._context = self._device.retain_primary_context()
        self._logger = trt.Logger(trt.Logger.WARNING)
        model_bytes = model_path.read_bytes()
        cache = engine_cache_path(model_bytes, precision, cache_dir or default_cache_dir(), self._device.name())
        self._context.push()
        try:
            if not cache.is_file():
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_bytes(build_engine(model_bytes, precision, self._logger))
            self._engine = trt.Runtime(self._logger).deserialize_cuda_engine(cache.read_bytes())
            if self._engine is None:
                raise ModelLoadError(f"cannot deserialise the TensorRT engine {cache}; delete it to rebuild")
            self._execution = self._engine.create_execution_context()
            self._stream = cuda.Stream()
            self._bind(input_shape)
        finally:
            self._context.pop()
        self.name = f"tensorrt:{precision}"
        self.engine_path = cache

    def _bind(self, input_shape: tuple[int, ...]) -> None:
        self._inputs: list[tuple[str, np.ndarray, cuda.DeviceAllocation]] = []
        self._outputs: list[tuple[str, np.ndarray, cuda.DeviceAllocation]] = []
        for index in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(index)
            is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            if is_input:
                self._execution.set_input_shape(name, input_shape)
            shape = tuple(self._execution.get_tensor_shape(name))
            host = cuda.pagelocked_empty(shape, trt.nptype(self._engine.get_tensor_dtype(name)))
            device = cuda.mem_alloc(host.nbytes)
            self._execution.set_tensor_address(name, int(device))
            (self._inputs if is_input else self._outputs).append((name, host, device))
        if len(self._inputs) != 1:
            raise ModelLoadError(f"a detector takes one image input; the engine has {len(self._inputs)}")

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        _, host_in, device_in = self._inputs[0]
        if tensor.shape != host_in.shape:
            raise EmbodiedError(f"TensorRT engine takes {host_in.shape}, got {tensor.shape}",
                                ErrorCode.INFERENCE_FAILED)
        self._context.push()
        try:
            np.copyto(host_in, tensor)
            cuda.memcpy_htod_async(device_in, host_in, self._stream)
            if not self._execution.execute_async_v3(self._stream.handle):
                raise EmbodiedError("TensorRT execution failed", ErrorCode.INFERENCE_FAILED)
            for _, host, device in self._outputs:
                cuda.memcpy_dtoh_async(host, device, self._stream)
            self._stream.synchronize()
        finally:
            self._context.pop()
        return [host.copy() for _, host, _ in self._outputs]
