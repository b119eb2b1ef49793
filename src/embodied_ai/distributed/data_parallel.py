"""One expert's LoRA training, data-parallel on Ray Train's TorchTrainer (CPU, gloo): what each worker runs.

Every step trains on one global batch of ``batch_size`` rows, the same rows whatever the number of
workers: rank r of w takes rows r, r+w, ... of it, each worker's loss is its rows' token losses
over the global batch's token count, and the gradients are summed over the workers. So w workers
take the same steps as one worker with the whole batch (up to float rounding), and a run that
loses a worker goes on with the rest without changing what it learns (``test_distributed``).

Rank 0 tells the job's ``TaskBoard`` (an actor beside the driver) each step, and hears from it
whether to stop (a pause, a cancel, the job process stopping); it passes that on to the other
ranks, so all stop after the same step. A checkpoint (the adapter's weights, the optimizer and
the schedule, the step) goes to the run's storage every ``save_steps``, when stopping and at the
end; a worker group that restarts after a failure, or a resumed job, continues from the newest.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_ai.experts.training import ChatDataset, TrainingJob, make_model, pad_collator

STATE_FILE = "state.pt"
ADAPTER_DIR = "adapter"                 # in the final checkpoint: the trained adapter, as a local run saves it
MAX_GRAD_NORM = 1.0                     # the Hugging Face Trainer's default, which local runs use


@dataclass(frozen=True)
class StepPlan:
    """Which rows each global step trains on: a fresh permutation per epoch, fixed by the seed."""

    rows: int
    batch_size: int
    total_steps: int
    seed: int

    @classmethod
    def of(cls, rows: int, batch_size: int, num_epochs: float, max_steps: int, seed: int) -> StepPlan:
        per_epoch = math.ceil(rows / batch_size)
        total = max_steps if max_steps > 0 else max(1, math.ceil(num_epochs * per_epoch))
        return cls(rows, batch_size, total, seed)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.rows / self.batch_size)

    def batch(self, step: int) -> list[int]:
        import torch

        epoch, within = divmod(step, self.steps_per_epoch)
        order = torch.randperm(self.rows, generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
        return order[within * self.batch_size:(within + 1) * self.batch_size]

    def epoch_of(self, step: int) -> float:
        return round(step / self.steps_per_epoch, 3)


def answer_tokens(example: dict[str, list[int]]) -> int:
    """The positions an example's loss covers (labels shift by one, as in a causal LM)."""
    return sum(1 for label in example["labels"][1:] if label != -100)


def train_worker(settings: dict[str, Any]) -> None:
    """Ray Train's per-worker function: ``settings`` = {run_dir, board, resume_from (a checkpoint folder or
    None)}."""
    import ray
    import ray.train
    import torch
    import torch.distributed as dist
    import torch.nn.functional as functional
    from transformers import get_cosine_schedule_with_warmup

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    run = TrainingJob.load(Path(settings["run_dir"]))
    config = run.request.config
    torch.set_num_threads(config.threads)
    # No dropout: a step must not depend on how its rows are split over workers.
    model, tokenizer = make_model(run.request, lora_dropout=0.0)
    data = ChatDataset(run.dataset_copy, tokenizer, config)
    plan = StepPlan.of(len(data), config.batch_size, config.num_epochs, config.max_steps, config.seed)
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in trainable]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, plan.total_steps)
    start = 0
    # A group restarted after a failure gets this run's newest checkpoint from Ray; a resumed job (a new
    # run) the newest one its driver found in the storage.
    checkpoint = ray.train.get_checkpoint()
    state = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / STATE_FILE, weights_only=False)
    elif settings.get("resume_from"):
        state = torch.load(Path(settings["resume_from"]) / STATE_FILE, weights_only=False)
    if state is not None:
        model.load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        start = int(state["step"])
    board = ray.get_actor(settings["board"])
    node = ray.get_runtime_context().get_node_id()
    collate = pad_collator(tokenizer.pad_token_id)
    model.train()

    def save(step: int, final: bool) -> None:
        metrics = {"step": step, "world_size": world}
        if rank != 0:
            ray.train.report(metrics, checkpoint=None)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save({"step": step, "trainable": {name: p.detach().clone() for name, p in trainable},
                        "optimizer": optimizer.state_dict(), "scheduler": schedule.state_dict()},
                       Path(folder) / STATE_FILE)
            if final:
                model.save_pretrained(Path(folder) / ADAPTER_DIR)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))

    ray.get(board.joined.remote(rank, world, node, start))
    for step in range(start, plan.total_steps):
        began = time.monotonic()
        rows = [data[i] for i in plan.batch(step)]
        tokens = max(1, sum(answer_tokens(row) for row in rows))
        mine = rows[rank::world]
        local = torch.zeros(())
        if mine:
            batch = collate(mine)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            local = functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                             batch["labels"][:, 1:].reshape(-1), ignore_index=-100,
                                             reduction="sum") / tokens
            local.backward()
        loss = local.detach().clone()
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if world > 1:
            for p in params:
                dist.all_reduce(p.grad)
            dist.all_reduce(loss)
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        rate = len(mine) / max(1e-9, time.monotonic() - began)
        report = board.step.remote(rank, world, node, done, plan.total_steps, plan.epoch_of(done), float(loss),
                                   float(schedule.get_last_lr()[0]), rate)
        stop = torch.tensor([int(ray.get(report)) if rank == 0 else 0])
        if world > 1:
            dist.broadcast(stop, src=0)
        if done == plan.total_steps:
            save(done, final=True)
            return
        if stop.item():
            save(done, final=False)
            return
        if done % max(1, config.save_steps) == 0:
            save(done, final=False)
