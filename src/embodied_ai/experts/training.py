"""Training an expert (the Robot API's Training API): LoRA on the shared base, or a full model
trained from scratch, with torch and the Hugging Face Trainer.

A job owns one folder under ``<state>/jobs/<job_id>/``: a copy of its dataset, its config,
``status.json`` (rewritten atomically at every logging step: what the status endpoint
returns) and the Trainer's checkpoints. Stopping a job asks the Trainer to save a checkpoint
and end; ``resume`` continues from the newest checkpoint with the optimizer and scheduler
state, on the same copied dataset, so a stop loses neither data nor progress.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from embodied_ai.errors import EmbodiedError, ErrorCode
from embodied_ai.experts.prompts import END_OF_TURN, chat_prompt

STATUS_FILE = "status.json"
RECENT_LOGS = 20


@dataclass
class TrainingConfig:
    """The Robot API's training parameters, plus bounds that keep runs short on 2 cores."""

    learning_rate: float = 2e-4
    batch_size: int = 8
    num_epochs: float = 1.0
    max_steps: int = -1                 # > 0 overrides num_epochs
    warmup_steps: int = 20
    gradient_accumulation: int = 1
    use_lora: bool = True
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    # Adapt only the top layers: backward then stops there, which makes a step ~3x cheaper
    # on CPU; None adapts every layer.
    lora_layers: tuple[int, ...] | None = tuple(range(22, 30))
    save_steps: int = 50
    log_steps: int = 5                  # progress (status.json, callbacks) every this many steps
    max_length: int = 96                # tokens per example (prompt + answer)
    system_prompt: str = ""
    # Full training from scratch (use_lora False and a base of None): the model's shape.
    scratch_shape: dict[str, int] | None = None
    seed: int = 0
    # One thread: on a shared 2-core machine two torch threads spin against other processes
    # and a step took 3-5x longer than with one (measured).
    threads: int = 1


@dataclass
class TrainingStatus:
    """What ``GET /training/{job_id}/status`` returns."""

    job_id: str
    expert: str
    status: str = "queued"              # queued | running | stopping | stopped | completed | failed
    current_step: int = 0
    total_steps: int = 0
    current_epoch: float = 0.0
    total_epochs: float = 0.0
    current_loss: float | None = None
    best_loss: float | None = None
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    eta_seconds: float | None = None
    elapsed_seconds: float = 0.0
    checkpoint: str | None = None
    recent_logs: list[str] = field(default_factory=list)
    error: str | None = None
    waiting_reason: str | None = None   # a distributed run waiting for workers: why

    def log(self, line: str) -> None:
        self.recent_logs = (self.recent_logs + [line])[-RECENT_LOGS:]


@dataclass(frozen=True)
class TrainingRequest:
    job_id: str
    expert: str
    dataset: Path                       # JSONL rows with "prompt" and "completion"
    base_hf_dir: Path | None            # the decoded quantized base (LoRA), None for from-scratch
    config: TrainingConfig
    validation: Path | None = None


class TrainingJob:
    """One training run, in its own folder; ``run`` blocks, ``stop`` may come from any thread."""

    def __init__(self, request: TrainingRequest, jobs_root: Path) -> None:
        self.request = request
        self.directory = jobs_root / request.job_id
        self._stop = threading.Event()
        self.on_progress: Callable[[TrainingStatus], None] = lambda _: None
        # Asked after every optimiser step: True stops the run as ``stop`` does (a job's cancel flag).
        self.stop_when: Callable[[], bool] = lambda: False
        if (self.directory / STATUS_FILE).is_file():
            self.status = TrainingStatus(**json.loads((self.directory / STATUS_FILE).read_text()))
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Keep the job's own copy of its data: a resume must train on exactly these rows
            # even if the uploaded file is replaced or deleted meanwhile.
            shutil.copyfile(request.dataset, self.dataset_copy)
            if request.validation is not None:
                shutil.copyfile(request.validation, self.directory / "validation.jsonl")
            (self.directory / "request.json").write_text(json.dumps({
                "job_id": request.job_id, "expert": request.expert, "dataset": str(request.dataset),
                "base_hf_dir": str(request.base_hf_dir) if request.base_hf_dir else None,
                "config": asdict(request.config)}, indent=2))
            self.status = TrainingStatus(job_id=request.job_id, expert=request.expert)
            self.save_status()

    @property
    def dataset_copy(self) -> Path:
        return self.directory / "dataset.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.directory / "checkpoints"

    @property
    def output_dir(self) -> Path:
        """The trained result: a PEFT adapter folder (LoRA) or an HF model folder (scratch)."""
        return self.directory / "output"

    @classmethod
    def load(cls, directory: Path) -> "TrainingJob":
        saved = json.loads((directory / "request.json").read_text())
        config = saved["config"]
        config["lora_modules"] = tuple(config["lora_modules"])
        config["lora_layers"] = tuple(config["lora_layers"]) if config["lora_layers"] else None
        request = TrainingRequest(
            job_id=saved["job_id"], expert=saved["expert"], dataset=directory / "dataset.jsonl",
            base_hf_dir=Path(saved["base_hf_dir"]) if saved["base_hf_dir"] else None,
            config=TrainingConfig(**config),
            validation=directory / "validation.jsonl" if (directory / "validation.jsonl").is_file() else None)
        return cls(request, directory.parent)

    def latest_checkpoint(self) -> Path | None:
        if not self.checkpoints_dir.is_dir():
            return None
        found = [p for p in self.checkpoints_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)

    def stop(self) -> None:
        """Ask the run to save a checkpoint and end at the next step."""
        self._stop.set()
        if self.status.status == "running":
            self.status.status = "stopping"
            self.save_status()

    def save_status(self) -> None:
        temporary = self.directory / (STATUS_FILE + ".tmp")
        temporary.write_text(json.dumps(asdict(self.status), indent=2))
        os.replace(temporary, self.directory / STATUS_FILE)

    # -- the run ------------------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainingStatus:
        import torch

        if self.status.status == "completed":
            return self.status
        config = self.request.config
        torch.set_num_threads(config.threads)
        checkpoint = self.latest_checkpoint() if resume else None
        self._stop.clear()
        self.status.status, self.status.error = "running", None
        self.status.log(f"resumed from {checkpoint.name}" if checkpoint else "started")
        self.save_status()
        started = time.monotonic()
        elapsed_before = self.status.elapsed_seconds
        try:
            trainer = self._make_trainer(started, elapsed_before)
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
            if self._stop.is_set() and trainer.state.global_step < trainer.state.max_steps:
                self.status.status = "stopped"
                self.status.log(f"stopped at step {trainer.state.global_step}; checkpoint saved")
            else:
                trainer.model.save_pretrained(self.output_dir)
                self.status.status = "completed"
                self.status.log(f"completed {trainer.state.global_step} steps")
            self.status.checkpoint = str(self.latest_checkpoint()) if self.latest_checkpoint() else None
        except Exception as exc:  # noqa: BLE001 - any failure is reported on the job, then re-raised
            self.status.status, self.status.error = "failed", f"{type(exc).__name__}: {exc}"
            self.save_status()
            raise EmbodiedError(f"training {self.request.job_id} failed: {exc}", ErrorCode.TRAINING_FAILED) from exc
        finally:
            self.status.elapsed_seconds = elapsed_before + time.monotonic() - started
        self.save_status()
        return self.status

    def _make_trainer(self, started: float, elapsed_before: float) -> Any:
        from transformers import Trainer, TrainerCallback, TrainingArguments

        config = self.request.config
        model, tokenizer = self._make_model()
        train = ChatDataset(self.dataset_copy, tokenizer, config)
        validation = ChatDataset(self.request.validation, tokenizer, config) if self.request.validation else None
        job = self

        class Progress(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
                if not job._stop.is_set() and job.stop_when():
                    job._stop.set()
                if job._stop.is_set():
                    control.should_save = True
                    control.should_training_stop = True

            def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                       **_: Any) -> None:
                status, logs = job.status, logs or {}
                status.current_step, status.total_steps = state.global_step, state.max_steps
                status.current_epoch = round(float(state.epoch or 0.0), 3)
                status.total_epochs = float(args.num_train_epochs) if args.max_steps <= 0 else round(
                    state.max_steps / max(1, math.ceil(len(train) / args.per_device_train_batch_size)), 3)
                if "loss" in logs:
                    loss = float(logs["loss"])
                    status.current_loss = loss
                    status.best_loss = loss if status.best_loss is None else min(status.best_loss, loss)
                    status.train_loss.append(round(loss, 4))
                    status.log(f"Epoch {status.current_epoch:.2f}, Step {state.global_step}: Loss={loss:.4f}")
                if "eval_loss" in logs:
                    status.val_loss.append(round(float(logs["eval_loss"]), 4))
                run_seconds = time.monotonic() - started
                status.elapsed_seconds = elapsed_before + run_seconds
                done_this_run = state.global_step - job._first_step
                if done_this_run > 0:
                    status.eta_seconds = round(run_seconds / done_this_run * (state.max_steps - state.global_step), 1)
                job.save_status()
                job.on_progress(status)

            def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
                job._first_step = state.global_step

        self._first_step = 0
        arguments = TrainingArguments(
            output_dir=str(self.checkpoints_dir),
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation,
            learning_rate=config.learning_rate,
            num_train_epochs=config.num_epochs,
            max_steps=config.max_steps,
            warmup_steps=config.warmup_steps,
            lr_scheduler_type="cosine",
            logging_steps=config.log_steps,
            save_strategy="steps",
            save_steps=config.save_steps,
            save_total_limit=2,
            eval_strategy="steps" if validation is not None else "no",
            eval_steps=config.save_steps,
            report_to=[],
            use_cpu=True,
            seed=config.seed,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        return Trainer(model=model, args=arguments, train_dataset=train, eval_dataset=validation,
                       data_collator=pad_collator(tokenizer.pad_token_id), callbacks=[Progress()])

    def _make_model(self) -> tuple[Any, Any]:
        return make_model(self.request)


def make_model(request: TrainingRequest, lora_dropout: float = 0.05) -> tuple[Any, Any]:
    """The model a run trains (the base with a fresh LoRA adapter, or a new model of the scratch shape)
    and its tokenizer, seeded by the request."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    config = request.config
    torch.manual_seed(config.seed)
    if request.base_hf_dir is None:
        raise EmbodiedError("a tokenizer folder (the base) is needed even for a scratch model",
                            ErrorCode.TRAINING_FAILED)
    tokenizer = AutoTokenizer.from_pretrained(request.base_hf_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.use_lora:
        from peft import LoraConfig, get_peft_model

        base = AutoModelForCausalLM.from_pretrained(request.base_hf_dir, dtype=torch.float32)
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=lora_dropout,
                          target_modules=list(config.lora_modules), task_type="CAUSAL_LM",
                          layers_to_transform=list(config.lora_layers) if config.lora_layers else None)
        return get_peft_model(base, lora), tokenizer
    shape = config.scratch_shape or {"d_model": 128, "n_layers": 2, "n_heads": 4, "d_ff": 512}
    scratch = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=shape["d_model"], num_hidden_layers=shape["n_layers"],
        num_attention_heads=shape["n_heads"], num_key_value_heads=shape["n_heads"],
        intermediate_size=shape["d_ff"], max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    return AutoModelForCausalLM.from_config(scratch), tokenizer


class ChatDataset:
    """JSONL rows tokenised for training; the loss covers only what the model must write.

    Instruction rows ({"prompt", "completion"}, other fields ignored) and chat rows
    ({"messages"}: the last user turn and the final assistant turn) use the chat format; text
    rows (only {"text"}) are plain language-model text.
    """

    def __init__(self, path: Path, tokenizer: Any, config: TrainingConfig) -> None:
        self.examples: list[dict[str, list[int]]] = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "messages" in row:
                messages = row["messages"]
                system = next((m["content"] for m in messages if m["role"] == "system"), config.system_prompt)
                user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
                row = {"prompt": user, "completion": messages[-1]["content"], "system": system}
            if "prompt" not in row and "text" in row:
                prompt_ids: list[int] = []
                answer_ids = tokenizer(row["text"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            else:
                prompt = chat_prompt(row["prompt"], row.get("system", config.system_prompt))
                prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
                answer_ids = tokenizer(row["completion"] + END_OF_TURN, add_special_tokens=False)["input_ids"]
            ids = (prompt_ids + answer_ids)[: config.max_length]
            labels = ([-100] * len(prompt_ids) + answer_ids)[: config.max_length]
            self.examples.append({"input_ids": ids, "labels": labels})

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.examples[index]


def pad_collator(pad_id: int) -> Callable[[list[dict[str, list[int]]]], dict[str, Any]]:
    def collate(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        ids = [item["input_ids"] + [pad_id] * (width - len(item["input_ids"])) for item in batch]
        labels = [item["labels"] + [-100] * (width - len(item["labels"])) for item in batch]
        mask = [[1] * len(item["input_ids"]) + [0] * (width - len(item["input_ids"])) for item in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}
    return collate
