"""The experts service: registry + inference engine + router, as one object.

This is what the experts node calls. It decides which expert answers (the router, or the
caller's choice), keeps the engine's loaded experts in step with the registry (a version a
training job registered is loaded on its first request), counts usage and measured
performance, and applies the Robot API's rules: a serving or training expert cannot be
deleted, and every refusal carries an error code of the Robot API.

An expert is either a LoRA adapter on the shared base (created without a shape) or its own
small Llama-shaped model trained from scratch (created with d_model / n_layers / n_heads or a
size preset). Training, resizing included, is a job of the job system (the jobs node:
``embodied_ai.experts.training_jobs``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.base_build import BASE_MODEL, BaseRecipe, BuiltBase, build_base
from embodied_ai.experts.config import ExpertsNodeConfig
from embodied_ai.experts.engine import GenerationRequest, GenerationResult, InferenceEngine, LatencyWindow
from embodied_ai.experts.paths import REPO_EXPERTS_DIR
from embodied_ai.experts.registry import Expert, ExpertRegistry
from embodied_ai.experts.training import TrainingConfig
from embodied_ai.experts.training_jobs import model_shape
from embodied_ai.experts.versions import VersionWriter

if TYPE_CHECKING:
    from embodied_ai.experts.router import RetrainResult
    from embodied_ai.model_registry.served import ServedRequests

GENERAL = "general"
PERFORMANCE_EVERY_N_CALLS = 10
# Shapes of the Robot API SDK's size presets (experts trained from scratch).
SIZE_PRESETS: dict[str, dict[str, int]] = {
    "small": {"d_model": 256, "n_layers": 4, "n_heads": 4},
    "medium": {"d_model": 512, "n_layers": 8, "n_heads": 8},
    "large": {"d_model": 768, "n_layers": 12, "n_heads": 12},
}
BYTES_PER_PARAMETER = {"Q8": 1.0, "Q4": 0.5, "FP16": 2.0}
ROW_ERRORS_REPORTED = 20
SETTABLE_STATUSES = ("ready", "disabled")        # what a caller may set; the rest belong to training


def parameter_count(hidden: int, layers: int, heads: int, kv_heads: int, d_ff: int, vocab: int,
                    tied_embeddings: bool = True) -> int:
    """Weights of a Llama-shaped decoder (norms included)."""
    kv = hidden // heads * kv_heads
    per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * d_ff + 2 * hidden
    embeddings = vocab * hidden * (1 if tied_embeddings else 2)
    return layers * per_layer + embeddings + hidden


@dataclass(frozen=True)
class Routed:
    expert: str
    confidence: float
    fallback: bool
    candidates: list[str]
    scores: list[float]


@dataclass(frozen=True)
class ServedResult:
    result: GenerationResult
    route: Routed


class ExpertService:
    def __init__(self, state_dir: Path, base: BuiltBase, memory_budget_mb: float = 512.0,
                 router: Any | None = None, engine: InferenceEngine | None = None,
                 served: ServedRequests | None = None) -> None:
        """``served``: where each request's latency and outcome is recorded for the model registry."""
        self.state_dir = state_dir
        self.base = base
        self.registry = ExpertRegistry(state_dir)
        self.engine = engine or InferenceEngine(base.onnx_dir, memory_budget_mb)
        self.router = router
        self.served = served
        self._serving: dict[str, int] = {}
        self._serving_lock = threading.Lock()
        self._latency: dict[str, LatencyWindow] = {}
        # Folders whose files retrain_router may read (callers come over ROS or HTTP, so a path
        # anywhere else on the disk is refused).
        self.dataset_roots: list[Path] = [state_dir / "datasets"]

    # -- default experts ----------------------------------------------------------------
    def install_defaults(self, source: Path = REPO_EXPERTS_DIR) -> list[str]:
        """Register the experts shipped in models/experts/ that the registry does not have yet."""
        installed = []
        for manifest_path in sorted(source.glob("*/manifest.yaml")):
            manifest = yaml.safe_load(manifest_path.read_text())
            name = manifest["name"]
            try:
                self.registry.get(name)
                continue
            except EmbodiedError:
                pass
            adapter_dir = manifest_path.parent / "adapter"
            if manifest["kind"] == "adapter" and not (adapter_dir / "adapter_config.json").is_file():
                continue  # not trained yet (the build script writes it)
            self.registry.create(name, manifest.get("domain", ""), manifest.get("category", ""),
                                 config={"base_model": BASE_MODEL, "system_prompt": manifest.get("system_prompt", ""),
                                         "max_tokens": manifest.get("max_tokens", 128)},
                                 quantization=manifest.get("quantization", "Q8"))
            metrics = manifest.get("metrics", {})
            measured = manifest_path.parent / "metrics.json"  # written by the expert's build script
            if measured.is_file():
                metrics = {**json.loads(measured.read_text()).get("held_out", {}), **metrics}
            if manifest["kind"] == "adapter":
                VersionWriter(self.registry, self.base).add_adapter(
                    name, adapter_dir, metrics, note=f"default expert from {manifest_path.parent.name}")
            else:
                self.registry.add_version(name, "base", None, metrics=metrics, note="the shared base model")
            self.registry.set_status(name, "ready")
            installed.append(name)
        return installed

    # -- routing and generation ---------------------------------------------------------
    def route(self, prompt: str) -> Routed:
        if not prompt or not prompt.strip():
            raise EmbodiedError("the prompt is empty", ErrorCode.INFERENCE_FAILED)
        if self.router is None:
            return Routed(GENERAL, 1.0, True, [GENERAL], [1.0])
        decision = self.router.route(prompt)
        known = self._ready_names()
        expert = decision.expert if decision.expert in known else GENERAL
        ordered = list(decision.scores.items())
        return Routed(expert, float(decision.confidence), bool(decision.fallback or expert != decision.expert),
                      [n for n, _ in ordered], [float(s) for _, s in ordered])

    def _ready_names(self) -> set[str]:
        experts, _ = self.registry.list(status="ready", limit=10_000)
        return {e.name for e in experts}

    def generate(self, request: GenerationRequest, expert: str = "",
                 on_text: Callable[[str, int], None] | None = None,
                 cancel: threading.Event | None = None) -> ServedResult:
        if not request.prompt or not request.prompt.strip():
            raise EmbodiedError("the prompt is empty", ErrorCode.INFERENCE_FAILED)
        routed = self.route(request.prompt) if not expert else Routed(expert, 1.0, False, [expert], [1.0])
        record = self.registry.get(routed.expert)
        if record.status != "ready":
            raise EmbodiedError(f"expert '{record.name}' is {record.status}", ErrorCode.EXPERT_NOT_READY)
        engine_name = self._ensure_loaded(record)
        if not request.system:
            request = replace(request, system=record.config.get("system_prompt", ""))
        with self._serving_lock:
            self._serving[record.name] = self._serving.get(record.name, 0) + 1
        started = time.monotonic()
        try:
            result = self.engine.generate(request, engine_name, on_text, cancel)
        except EmbodiedError:
            self._record_served(record, (time.monotonic() - started) * 1000, success=False)
            raise
        finally:
            with self._serving_lock:
                self._serving[record.name] -= 1
        result.expert = record.name
        self._record(record, result)
        self._record_served(record, result.total_ms, success=True)
        return ServedResult(result, replace(routed, expert=record.name))

    def _ensure_loaded(self, record: Expert) -> str | None:
        kind, path = self.registry.artifact(record.id)
        if kind == "base":
            return None
        name = f"{record.name}@v{record.current_version}"
        if name not in self.engine.loaded:
            assert path is not None
            if kind == "adapter":
                self.engine.load_adapter(name, path)
            else:
                self.engine.load_model(name, path)
        return name

    def _record(self, record: Expert, result: GenerationResult) -> None:
        self.registry.record_usage(record.id)
        window = self._latency.setdefault(record.name, LatencyWindow())
        window.add(result.total_ms)
        if len(window.samples_ms) % PERFORMANCE_EVERY_N_CALLS == 1:
            import psutil

            self.registry.update(record.id, performance={
                "inference_speed_tokens_per_sec": round(result.tokens_per_second, 1),
                "time_to_first_token_ms": round(result.time_to_first_token_ms, 1),
                "latency_p50_ms": round(window.percentile(50) or 0.0, 1),
                "latency_p95_ms": round(window.percentile(95) or 0.0, 1),
                "memory_usage_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
                "measured": True, "samples": len(window.samples_ms)})

    def _record_served(self, record: Expert, latency_ms: float, success: bool) -> None:
        if self.served is None or not record.current_version:
            return
        import psutil

        self.served.record(record.id, record.current_version, latency_ms, success,
                           round(psutil.Process().memory_info().rss / 2**20, 1))

    # -- load / unload / delete ---------------------------------------------------------
    def set_loaded(self, key: str, loaded: bool) -> str:
        record = self.registry.get(key)
        if loaded:
            if record.status != "ready":
                raise EmbodiedError(f"expert '{record.name}' is {record.status}", ErrorCode.EXPERT_NOT_READY)
            self._ensure_loaded(record)
            return f"expert '{record.name}' loaded"
        unloaded = [n for n in self.engine.loaded if n.split("@")[0] == record.name and self.engine.unload(n)]
        return f"expert '{record.name}' unloaded" if unloaded else f"expert '{record.name}' was not loaded"

    def serving(self, name: str) -> int:
        with self._serving_lock:
            return self._serving.get(name, 0)

    def delete(self, key: str, hard: bool = False) -> None:
        record = self.registry.get(key, include_deleted=hard)
        if self.serving(record.name):
            raise EmbodiedError(f"expert '{record.name}' is serving {self.serving(record.name)} request(s); "
                                "retry when it is idle", ErrorCode.EXPERT_NOT_READY)
        if record.status == "training":
            raise EmbodiedError(f"expert '{record.name}' is training; stop the job first", ErrorCode.EXPERT_NOT_READY)
        if record.deleted_at is None:
            self.set_loaded(str(record.id), False)
        self.registry.delete(record.id, hard)

    # -- create and describe ------------------------------------------------------------
    def create_expert(self, name: str, domain: str, category: str = "general", quantization: str = "Q8",
                      shape: dict[str, int] | None = None, size: str | None = None,
                      base_model: str | None = None) -> Expert:
        """Register an expert ('initializing' until a training job gives it a version): a LoRA
        adapter on the shared base without a shape, else its own model of that shape."""
        if size is not None:
            if size not in SIZE_PRESETS:
                raise EmbodiedError(f"size must be one of {', '.join(SIZE_PRESETS)}", ErrorCode.EXPERT_CREATION_FAILED)
            shape = {**SIZE_PRESETS[size], **(shape or {})}
        if base_model and base_model.lower() not in (BASE_MODEL.lower(), "smollm2-135m"):
            raise EmbodiedError(f"base model {base_model!r} is not available: experts share {BASE_MODEL}",
                                ErrorCode.EXPERT_CREATION_FAILED)
        if shape:
            missing = {"d_model", "n_layers", "n_heads"} - set(shape)
            if missing:
                raise EmbodiedError(f"a model shape needs {', '.join(sorted(missing))} too",
                                    ErrorCode.EXPERT_CREATION_FAILED)
            config: dict[str, Any] = model_shape(shape["d_model"], shape["n_layers"], shape["n_heads"])
        else:
            config = {"base_model": BASE_MODEL, "max_tokens": 128}
        return self.registry.create(name, domain, category, config=config, quantization=quantization)

    def update_expert(self, key: str, domain: str = "", category: str = "", status: str = "") -> Expert:
        """Change what a caller may change ("" leaves a field as it is): domain, category, and the
        status between ready and disabled; never while it trains (the job sets the status when it
        ends), and ready only with a trained version."""
        expert = self.registry.get(key)
        changes = {k: v for k, v in (("domain", domain), ("category", category)) if v}
        if changes:
            expert = self.registry.update(expert.id, **changes)
        if status:
            if status not in SETTABLE_STATUSES:
                raise EmbodiedError("status may be set to ready or disabled", ErrorCode.EXPERT_CREATION_FAILED)
            if status == "ready" and expert.current is None:
                raise EmbodiedError(f"expert '{expert.name}' has no trained version yet", ErrorCode.EXPERT_NOT_READY)
            expert = self.registry.set_status(expert.id, status, expected=SETTABLE_STATUSES)
        return expert

    def summary(self) -> str:
        """The experts and their status, the base and the execution providers (the node's ready line)."""
        experts, _ = self.registry.list(limit=1000)
        return (f"experts {', '.join(f'{e.name} ({e.status})' for e in experts)}; base {self.base.onnx_dir}; "
                f"providers {self.engine.providers or ['cpu']}")

    def _base_config(self) -> dict[str, Any]:
        return json.loads((self.base.train_hf_dir / "config.json").read_text())

    def total_params(self, expert: Expert) -> int | None:
        """Parameters the expert runs with: its own model's, or the shared base's for an adapter."""
        base = self._base_config()
        vocab = int(base["vocab_size"])
        if "d_model" in expert.config:
            c = expert.config
            return parameter_count(c["d_model"], c["n_layers"], c["n_heads"], c["n_heads"], c["d_ff"], vocab)
        return parameter_count(base["hidden_size"], base["num_hidden_layers"], base["num_attention_heads"],
                               base.get("num_key_value_heads", base["num_attention_heads"]),
                               base["intermediate_size"], vocab, bool(base.get("tie_word_embeddings", True)))

    def estimated_size_gb(self, expert: Expert) -> float:
        """The expert's own weights on disk: its model at its quantization, or a LoRA adapter
        (fp32, TrainingConfig's default rank, layers and projections)."""
        if "d_model" in expert.config:
            params = self.total_params(expert) or 0
            return round(params * BYTES_PER_PARAMETER.get(expert.quantization, 1.0) / 1e9, 4)
        base, config = self._base_config(), TrainingConfig()
        hidden, d_ff = base["hidden_size"], base["intermediate_size"]
        kv = hidden // base["num_attention_heads"] * base.get("num_key_value_heads", base["num_attention_heads"])
        widths = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv), "v_proj": (hidden, kv),
                  "o_proj": (hidden, hidden), "gate_proj": (hidden, d_ff), "up_proj": (hidden, d_ff),
                  "down_proj": (d_ff, hidden)}
        layers = len(config.lora_layers) if config.lora_layers else base["num_hidden_layers"]
        params = layers * sum(config.lora_rank * sum(widths[m]) for m in config.lora_modules)
        return round(params * 4 / 1e9, 4)

    # -- datasets -----------------------------------------------------------------------
    def check_dataset_path(self, path: Path) -> Path:
        """``path`` resolved, if it lies inside one of ``dataset_roots`` (else DATASET_INVALID)."""
        resolved = path.expanduser().resolve()
        if not any(resolved.is_relative_to(root.expanduser().resolve()) for root in self.dataset_roots):
            raise EmbodiedError(f"{path} is outside the dataset folders ({', '.join(map(str, self.dataset_roots))})",
                                ErrorCode.DATASET_INVALID)
        if not resolved.is_file():
            raise EmbodiedError(f"no dataset file at {path}", ErrorCode.DATASET_INVALID)
        return resolved

    # -- the router ---------------------------------------------------------------------
    def retrain_router(self, training_data: Path, num_epochs: int | None = None) -> RetrainResult:
        """Retrain the router's gate on a labelled-prompt file inside the dataset folders."""
        if self.router is None:
            raise EmbodiedError("this experts node runs without a router (use_router false)", ErrorCode.TRAINING_FAILED)
        retrained: RetrainResult = self.router.retrain(self.check_dataset_path(training_data), num_epochs)
        return retrained

    def close(self) -> None:
        if self.served is not None:
            self.served.close()
        self.registry.close()


@dataclass(frozen=True)
class OpenedService:
    service: ExpertService
    installed: list[str]          # default experts registered by this start


def open_service(config: ExpertsNodeConfig, progress: Callable[[str], None] = lambda _line: None) -> OpenedService:
    """The service as the experts node runs it: the base built into the cache if it is not there
    yet (once, ~1-2 min; ``progress`` gets the builder's lines), the router, the registry in the
    state directory with the default experts."""
    state = config.resolved_state_dir()
    base = build_base(BaseRecipe(precision=config.base_precision), progress=progress)
    router = None
    if config.use_router:
        from embodied_ai.experts.router import Router  # the embedder and the gate: only when routing

        router = Router.load(state / "router")
    from embodied_ai.jobs.config import DATABASE
    from embodied_ai.model_registry.served import ServedRequests

    service = ExpertService(state, base, config.memory_budget_mb, router, served=ServedRequests(state / DATABASE))
    service.dataset_roots = config.dataset_roots() or service.dataset_roots
    try:
        return OpenedService(service, service.install_defaults())
    except BaseException:
        service.close()
        raise
