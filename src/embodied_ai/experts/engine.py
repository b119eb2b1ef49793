"""Inference on ONNX Runtime GenAI: one shared base model, LoRA adapters switched per request.

- Adapters (``.onnx_adapter``) are kept in an LRU under a memory budget; experts trained from
  scratch are their own small ONNX models in the same LRU.
- Sampling: max_tokens, temperature (0 = greedy), top_p; stop sequences are cut from the
  text, and streamed text holds back just enough characters never to emit part of a stop
  sequence; optional JSON-schema constrained decoding (llguidance, built into ORT GenAI).
- Streaming through a callback per text chunk; cancellation through an Event checked
  between tokens; batches run request by request on the same loaded model.
- Execution providers are chosen at run time: TensorRT-RTX or CUDA when ORT GenAI reports
  them, the CPU otherwise.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.prompts import chat_prompt

MAX_PROMPT_CHARS = 32_000          # longer prompts are refused before tokenising
DEFAULT_MAX_TOKENS = 128


@dataclass
class GenerationRequest:
    prompt: str
    system: str = ""
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0           # 0 = greedy
    top_p: float = 1.0
    stop: Sequence[str] = ()
    json_schema: dict[str, Any] | str | None = None
    timeout_s: float = 120.0


@dataclass
class GenerationResult:
    text: str
    finish_reason: str                 # "stop" | "length" | "cancelled"
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_ms: float
    tokens_per_second: float
    total_ms: float
    expert: str = ""


@dataclass
class _LoadedExpert:
    name: str
    kind: str                          # "adapter" | "model"
    size_bytes: int
    model: Any = None                  # og.Model for from-scratch experts
    tokenizer: Any = None


def pick_providers() -> list[str]:
    """ORT GenAI provider names, best first, among those this install can use."""
    import onnxruntime as ort
    import onnxruntime_genai as og

    available = set(ort.get_available_providers())
    providers: list[str] = []
    if "NvTensorRTRTXExecutionProvider" in available:
        providers.append("NvTensorRtRtx")
    if og.is_cuda_available() and "CUDAExecutionProvider" in available:
        providers.append("cuda")
    return providers  # empty: the CPU


def _load_model(model_dir: Path, providers: Sequence[str]) -> Any:
    import onnxruntime_genai as og

    config = og.Config(str(model_dir))
    config.clear_providers()
    for provider in providers:
        config.append_provider(provider)
    return og.Model(config)


class InferenceEngine:
    """Thread-safe: one generation at a time (the CPU has two cores; requests queue)."""

    def __init__(self, base_dir: Path, memory_budget_mb: float = 512.0, providers: Sequence[str] | None = None) -> None:
        import onnxruntime_genai as og

        self.providers = list(pick_providers() if providers is None else providers)
        self.base_dir = base_dir
        self.model = _load_model(base_dir, self.providers)
        self.tokenizer = og.Tokenizer(self.model)
        self.adapters = og.Adapters(self.model)
        self.context_length = int(json.loads((base_dir / "genai_config.json").read_text())["model"]["context_length"])
        self.memory_budget_bytes = int(memory_budget_mb * 1024 * 1024)
        self._loaded: OrderedDict[str, _LoadedExpert] = OrderedDict()
        self._lock = threading.RLock()

    # -- the LRU of loaded experts ------------------------------------------------------
    @property
    def loaded(self) -> list[str]:
        return list(self._loaded)

    @property
    def loaded_bytes(self) -> int:
        return sum(e.size_bytes for e in self._loaded.values())

    def load_adapter(self, name: str, path: Path) -> None:
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return
            size = path.stat().st_size
            self._make_room(size)
            self.adapters.load(str(path), name)
            self._loaded[name] = _LoadedExpert(name, "adapter", size)

    def load_model(self, name: str, model_dir: Path) -> None:
        """An expert trained from scratch: its own ONNX model folder."""
        import onnxruntime_genai as og

        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return
            size = sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file())
            self._make_room(size)
            model = _load_model(model_dir, self.providers)
            self._loaded[name] = _LoadedExpert(name, "model", size, model, og.Tokenizer(model))

    def unload(self, name: str) -> bool:
        with self._lock:
            expert = self._loaded.pop(name, None)
            if expert is None:
                return False
            if expert.kind == "adapter":
                self.adapters.unload(name)
            return True

    def _make_room(self, size: int) -> None:
        if size > self.memory_budget_bytes:
            raise EmbodiedError(f"expert needs {size / 2**20:.1f} MiB, over the whole budget of "
                                f"{self.memory_budget_bytes / 2**20:.0f} MiB", ErrorCode.EXPERT_NOT_READY)
        while self._loaded and self.loaded_bytes + size > self.memory_budget_bytes:
            self.unload(next(iter(self._loaded)))  # least recently used first

    # -- generation ---------------------------------------------------------------------
    def generate(self, request: GenerationRequest, expert: str | None = None,
                 on_text: Callable[[str, int], None] | None = None,
                 cancel: threading.Event | None = None) -> GenerationResult:
        """Generate with ``expert`` (a loaded adapter or model; None = the plain base)."""
        import onnxruntime_genai as og

        if not request.prompt or not request.prompt.strip():
            raise EmbodiedError("the prompt is empty", ErrorCode.INFERENCE_FAILED)
        if len(request.prompt) > MAX_PROMPT_CHARS:
            raise EmbodiedError(f"the prompt has {len(request.prompt)} characters; the limit is {MAX_PROMPT_CHARS}",
                                ErrorCode.INFERENCE_FAILED)
        if request.max_tokens <= 0:
            request.max_tokens = DEFAULT_MAX_TOKENS
        with self._lock:
            loaded = None
            if expert is not None:
                loaded = self._loaded.get(expert)
                if loaded is None:
                    raise EmbodiedError(f"expert '{expert}' is not loaded", ErrorCode.EXPERT_NOT_READY)
                self._loaded.move_to_end(expert)
            model = loaded.model if loaded is not None and loaded.kind == "model" else self.model
            tokenizer = loaded.tokenizer if loaded is not None and loaded.kind == "model" else self.tokenizer
            prompt_ids = tokenizer.encode(chat_prompt(request.prompt, request.system))
            if len(prompt_ids) + request.max_tokens > self.context_length:
                raise EmbodiedError(f"the prompt has {len(prompt_ids)} tokens; with max_tokens {request.max_tokens} "
                                    f"it exceeds the context of {self.context_length}", ErrorCode.INFERENCE_FAILED)
            params = og.GeneratorParams(model)
            sampling = request.temperature > 0
            options: dict[str, Any] = {"max_length": len(prompt_ids) + request.max_tokens, "do_sample": sampling}
            if sampling:
                options.update(temperature=request.temperature, top_p=request.top_p or 1.0, top_k=0)
            params.set_search_options(**options)
            if request.json_schema is not None:
                schema = (request.json_schema if isinstance(request.json_schema, str)
                          else json.dumps(request.json_schema))
                params.set_guidance("json_schema", schema)
            try:
                generator = og.Generator(model, params)
                if loaded is not None and loaded.kind == "adapter":
                    generator.set_active_adapter(self.adapters, expert)
                return self._run(generator, tokenizer, prompt_ids, request, on_text, cancel, expert or "")
            except EmbodiedError:
                raise
            except Exception as exc:  # noqa: BLE001 - ORT errors become the Robot API's inference error
                raise EmbodiedError(f"generation failed: {exc}", ErrorCode.INFERENCE_FAILED) from exc

    def generate_batch(self, requests: Sequence[tuple[GenerationRequest, str | None]]) -> list[GenerationResult]:
        return [self.generate(request, expert) for request, expert in requests]

    @staticmethod
    def _run(generator: Any, tokenizer: Any, prompt_ids: Sequence[int], request: GenerationRequest,
             on_text: Callable[[str, int], None] | None, cancel: threading.Event | None,
             expert: str) -> GenerationResult:
        started = time.monotonic()
        generator.append_tokens(prompt_ids)
        stream = tokenizer.create_stream()
        stops = [s for s in request.stop if s]
        hold_back = max((len(s) for s in stops), default=1) - 1
        text, emitted, tokens = "", 0, 0
        first_token_at: float | None = None
        finish = "length"
        while not generator.is_done():
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if time.monotonic() - started > request.timeout_s:
                raise EmbodiedError(f"generation took longer than {request.timeout_s:.0f} s", ErrorCode.TIMEOUT)
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            tokens += 1
            if first_token_at is None:
                first_token_at = time.monotonic()
            text += stream.decode(token)
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
                break
            if tokens >= request.max_tokens:
                break
            # Hold back what could still become the start of a stop sequence.
            safe = len(text) - hold_back
            if on_text is not None and safe > emitted:
                on_text(text[emitted:safe], tokens)
                emitted = safe
        else:
            finish = "stop"  # end of turn (EOS) or the grammar's end
        if on_text is not None and len(text) > emitted and finish != "cancelled":
            on_text(text[emitted:], tokens)
        finished = time.monotonic()
        first = first_token_at or finished
        decode_seconds = finished - first
        return GenerationResult(
            text=text, finish_reason=finish, prompt_tokens=len(prompt_ids), completion_tokens=tokens,
            time_to_first_token_ms=(first - started) * 1000.0,
            tokens_per_second=(tokens - 1) / decode_seconds if tokens > 1 and decode_seconds > 0 else 0.0,
            total_ms=(finished - started) * 1000.0, expert=expert)


@dataclass
class LatencyWindow:
    """Recent request latencies, for an expert's measured p50 / p95."""

    samples_ms: list[float] = field(default_factory=list)
    limit: int = 200

    def add(self, value_ms: float) -> None:
        self.samples_ms = (self.samples_ms + [value_ms])[-self.limit:]

    def percentile(self, q: float) -> float | None:
        if not self.samples_ms:
            return None
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))]
