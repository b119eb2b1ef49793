"""An expert's training job run data-parallel on the Ray cluster: the driver's side.

``DistributedTraining.run(ctx, run, n_clients, requirements)`` does for a distributed job what
``run_training`` does for a local one, on the same run folder (its copied rows, its
``status.json``, its ``output/`` adapter), so the job registers its version the same way:

1. waits until the cluster can place ``n_clients`` workers with ``requirements`` (the reason is
   in the job's log and its status while it waits; a cancel or pause ends the wait);
2. runs Ray Train's TorchTrainer (``data_parallel.train_worker``) on that many workers, spread over
   the nodes, from the newest checkpoint in the run's storage. A worker lost mid-run (its node dead
   in Ray's view: said in the job's log) fails the group; the driver restarts it, up to
   ``MAX_WORKER_FAILURES`` times, from the last checkpoint on as many workers as the alive nodes
   can hold (between 1 and ``n_clients``). Ray's own FailureConfig is set to no retries: a group
   that has to shrink is a new fixed-size group, which Ray's retries cannot make;
3. relays the workers' steps as METRIC lines, progress and cluster events; a cancel or pause
   asks rank 0 to stop after the current step with a checkpoint, and ends in ``JobCancelled``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embodied_ai.distributed.board import TaskBoard
from embodied_ai.distributed.cluster import RAY_NAMESPACE, RayCluster, RayNode, import_ray
from embodied_ai.distributed.data_parallel import ADAPTER_DIR, STATE_FILE
from embodied_ai.distributed.requirements import Requirements, placement_problem
from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest
from embodied_ai.experts.training import TrainingJob, TrainingStatus
from embodied_ai.jobs.models import LogLevel
from embodied_ai.jobs.runner import JobCancelled, JobContext

log = logging.getLogger(__name__)

ClusterListener = Callable[[str, dict[str, Any]], None]   # (seed 003 message type, its fields)

STORAGE_DIR = "ray"            # in the run folder: Ray Train's storage (checkpoints), shared by the workers
MAX_WORKER_FAILURES = 3        # worker groups restarted after a failure before the job fails
POLL_S = 0.5                   # how often the driver reads the board
HEALTH_S = 2.0                 # how often it reads Ray's view of its workers' nodes
WAIT_POLL_S = 2.0              # how often a waiting job looks at the cluster again
SETTLE_S = 60.0                # after a failed group, the longest to wait for Ray to tell a lost node from a live one


def latest_checkpoint(storage: Path) -> Path | None:
    """The newest complete checkpoint Ray Train left in ``storage`` (by the step it holds)."""
    import torch

    best: tuple[int, Path] | None = None
    for state in storage.glob(f"*/checkpoint_*/{STATE_FILE}"):
        try:
            step = int(torch.load(state, weights_only=False)["step"])
        except Exception:  # noqa: BLE001 - a checkpoint cut short by a kill is skipped
            log.warning("checkpoint %s is unreadable: skipped", state.parent)
            continue
        if best is None or step > best[0]:
            best = (step, state.parent)
    return None if best is None else best[1]


class DistributedTraining:
    def __init__(self, cluster: RayCluster, listener: ClusterListener = lambda _type, _data: None) -> None:
        self.cluster = cluster
        self._listener = listener

    def check(self, n_clients: int, requirements: Requirements) -> None:
        """Refuse at submit what cannot run: an unreachable cluster (ClusterUnavailable), more workers than it
        has nodes (InvalidRequest). Requirements no node meets are not refused: the job waits for a worker
        that has them, saying why."""
        alive = [node for node in self.cluster.nodes() if node.alive]
        if n_clients > len(alive):
            raise InvalidRequest(f"n_clients {n_clients} is more than the cluster's {len(alive)} workers", [
                f"n_clients: {n_clients} workers asked, the Ray cluster has {len(alive)} alive nodes; "
                "join more with `embodied worker join ADDRESS`"])

    def run(self, ctx: JobContext, run: TrainingJob, n_clients: int, requirements: Requirements) -> TrainingStatus:
        """Train ``run`` on ``n_clients`` workers to its end; returns the completed status (the adapter in
        ``run.output_dir``). JobCancelled when it stopped on a cancel or pause (checkpoint saved),
        EmbodiedError TRAINING_FAILED when the workers failed beyond their restarts."""
        self.cluster.connect()
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # On the driver's node: it lives as long as the driver, whichever worker is lost.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        board_name = f"board-job-{ctx.job.id}"
        board = ray.remote(num_cpus=0)(TaskBoard).options(
            name=board_name, namespace=RAY_NAMESPACE, get_if_exists=True, scheduling_strategy=here,
        ).remote(ctx.job.id)
        follower = _Follower(ctx, run, self.cluster, self._listener, board)
        workers, failures = n_clients, 0
        try:
            while True:
                self._wait_for_workers(ctx, run, workers, requirements)
                outcome = self._fit(ctx, run, follower, board_name, workers, requirements)
                error = outcome.get("error")
                if error is None or follower.asked_stop or failures >= MAX_WORKER_FAILURES:
                    return follower.finish(outcome)
                failures += 1
                healthy = self._healthy_nodes(follower)
                workers = max(1, min(n_clients, sum(requirements.slots(node, free=False) for node in healthy)))
                ctx.log(LogLevel.WARN, f"the worker group failed ({type(error).__name__}: "
                                       f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}); "
                                       f"restart {failures} of {MAX_WORKER_FAILURES} on {workers} workers from the "
                                       "last checkpoint")
        finally:
            ray.kill(board)

    def _healthy_nodes(self, follower: _Follower) -> list[RayNode]:
        """The alive nodes after a group failed, once Ray's view of the group's own nodes has settled: each is
        dead, or answers a task (a lost node stays alive in Ray's view until its health checks fail)."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            nodes = [node for node in self.cluster.nodes() if node.alive]
            unsure = [node for node in nodes if node.id in follower.nodes and not self.cluster.responsive(node.id)]
            if not unsure or time.monotonic() > deadline:
                follower.watch_nodes(now=True)
                return [node for node in nodes if node not in unsure]
            time.sleep(1.0)

    def _fit(self, ctx: JobContext, run: TrainingJob, follower: _Follower, board: str, workers: int,
             requirements: Requirements) -> dict[str, Any]:
        """One TorchTrainer run of ``workers`` workers from the newest checkpoint, followed until it ends:
        {"result": Ray's Result} or {"error": what fit raised}."""
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer

        from embodied_ai.distributed.data_parallel import train_worker

        storage = run.directory / STORAGE_DIR
        checkpoint = latest_checkpoint(storage)
        if checkpoint is not None:
            ctx.log(LogLevel.INFO, f"resuming from checkpoint {checkpoint.name} ({checkpoint_step(checkpoint)} steps)")
        trainer = TorchTrainer(
            train_worker, train_loop_config={"run_dir": str(run.directory), "board": board,
                                             "resume_from": str(checkpoint) if checkpoint else None},
            scaling_config=ScalingConfig(num_workers=workers, resources_per_worker=requirements.ray_resources(),
                                         placement_strategy="SPREAD"),
            # Restarts are the driver's (run): after a lost worker the group may have to shrink to what remains,
            # which a fixed-size group cannot do, and an elastic one may start smaller than asked.
            run_config=RunConfig(name=f"job-{ctx.job.id}-{time.time_ns()}", storage_path=str(storage),
                                 failure_config=FailureConfig(max_failures=0)),
            torch_config=TorchConfig(backend="gloo"))
        outcome: dict[str, Any] = {}

        def fit() -> None:
            try:
                outcome["result"] = trainer.fit()
            except Exception as exc:  # noqa: BLE001 - reported on the job by the caller
                outcome["error"] = exc
        fitting = threading.Thread(target=fit, name=f"ray-fit-job-{ctx.job.id}", daemon=True)
        run.status.status, run.status.waiting_reason, run.status.error = "running", None, None
        run.save_status()
        fitting.start()
        while fitting.is_alive():
            fitting.join(POLL_S)
            follower.relay()
            follower.watch_nodes()
            if not follower.asked_stop and ctx.cancelled:
                follower.ask_stop()
        follower.relay()
        return outcome

    def _wait_for_workers(self, ctx: JobContext, run: TrainingJob, workers: int, requirements: Requirements) -> None:
        said = None
        while (problem := placement_problem(self.cluster.nodes(), requirements, workers)) is not None:
            if problem != said:
                ctx.log(LogLevel.WARN, problem)
                run.status.status, run.status.waiting_reason = "queued", problem
                run.save_status()
                said = problem
            for _ in range(int(WAIT_POLL_S / 0.1)):
                ctx.raise_if_cancelled()
                time.sleep(0.1)
        if said is not None:
            ctx.log(LogLevel.INFO, f"the cluster can place {workers} workers now")


def checkpoint_step(checkpoint: Path) -> int:
    import torch

    return int(torch.load(checkpoint / STATE_FILE, weights_only=False)["step"])


class _Follower:
    """The driver's view of a running fit: the run's status, the job's lines and the cluster events."""

    def __init__(self, ctx: JobContext, run: TrainingJob, cluster: RayCluster, listener: ClusterListener,
                 board: Any) -> None:
        self.ctx, self.run, self.cluster, self.listener, self.board = ctx, run, cluster, listener, board
        self.seen = 0
        self.asked_stop = False
        started = time.monotonic()
        self.group = 0                        # the current worker group (TaskBoard's count)
        self.nodes: dict[str, int] = {}       # its nodes: node id -> rank
        self.lost: set[str] = set()
        self.started, self.elapsed_before = started, run.status.elapsed_seconds
        self.first_step: int | None = None
        self.last_health = 0.0

    def ask_stop(self) -> None:
        """A cancel or pause: rank 0 stops the group after the current step, with a checkpoint."""
        self.asked_stop = True
        self.board.request_stop.remote()
        action = "stop" if self.ctx.saw_cancel else "pause"
        self.listener("control", {"action": action, "task_id": self.ctx.job.id})
        self.ctx.log(LogLevel.INFO, f"{action}: asking the workers to stop after this step with a checkpoint")

    def relay(self) -> None:
        """What the workers told the board since the last call: the job's lines, its status, the events."""
        events: list[dict[str, Any]] = import_ray().get(self.board.read.remote(self.seen))
        self.seen += len(events)
        status = self.run.status
        for event in events:
            self.listener(event["type"], {key: value for key, value in event.items() if key != "type"})
            if event["type"] == "task":
                if event["group"] != self.group:
                    self.group, self.nodes = event["group"], {}
                    self.ctx.log(LogLevel.INFO, f"worker group of {event['world_size']} started at step "
                                                f"{event['from_step']}")
                self.nodes[event["client_id"]] = event["rank"]
                if self.first_step is None:
                    self.first_step = int(event["from_step"])
                continue
            if event["rank"] != 0:
                continue
            step, loss = int(event["step"]), float(event["metrics"]["loss"])
            status.current_step, status.total_steps = step, int(event["total_steps"])
            status.current_epoch = float(event["epoch"])
            status.current_loss = loss
            status.best_loss = loss if status.best_loss is None else min(status.best_loss, loss)
            status.train_loss.append(round(loss, 4))
            status.log(f"Epoch {status.current_epoch:.2f}, Step {step}: Loss={loss:.4f}")
            run_seconds = time.monotonic() - self.started
            status.elapsed_seconds = self.elapsed_before + run_seconds
            done = step - (self.first_step or 0)
            if done > 0:
                status.eta_seconds = round(run_seconds / done * (status.total_steps - step), 1)
            self.ctx.log(LogLevel.METRIC, f"step {step}/{status.total_steps}: loss {loss:.4f}", step=step,
                         epoch=status.current_epoch, loss=loss,
                         values={**event["metrics"], "world_size": event["world_size"]})
            self.ctx.progress(step / max(1, status.total_steps))
        if events:
            self.run.save_status()

    def watch_nodes(self, now: bool = False) -> None:
        """Ray's node health for the current workers: a dead one is said in the job's log and the events (the
        group then fails, and the driver restarts it on what remains)."""
        if not self.nodes or (not now and time.monotonic() - self.last_health < HEALTH_S):
            return
        self.last_health = time.monotonic()
        for node in self.cluster.nodes():
            if node.id in self.nodes and not node.alive and node.id not in self.lost:
                self.lost.add(node.id)
                self.ctx.log(LogLevel.WARN, f"worker lost: node {node.id[:12]} ({node.address}, rank "
                                            f"{self.nodes[node.id]}) is dead in Ray's view; the run goes on from "
                                            "its last checkpoint on the remaining workers")
                self.listener("worker_lost", {"task_id": self.ctx.job.id, "client_id": node.id})

    def finish(self, outcome: dict[str, Any]) -> TrainingStatus:
        run, status = self.run, self.run.status
        status.elapsed_seconds = self.elapsed_before + time.monotonic() - self.started
        final = None
        error = outcome.get("error")
        if error is None:
            checkpoint = outcome["result"].checkpoint
            if checkpoint is not None:
                with checkpoint.as_directory() as folder:
                    if (Path(folder) / ADAPTER_DIR).is_dir():
                        shutil.rmtree(run.output_dir, ignore_errors=True)
                        shutil.copytree(Path(folder) / ADAPTER_DIR, run.output_dir)
                        final = str(checkpoint.path)
        ended = {"task_id": self.ctx.job.id, "client_id": next(iter(self.nodes), ""),
                 "metrics": {"final_loss": status.current_loss, "training_time": round(status.elapsed_seconds, 2)}}
        if final is not None:
            status.status, status.checkpoint = "completed", final
            status.log(f"completed {status.current_step} steps")
            run.save_status()
            self.listener("task_result", {**ended, "status": "completed", "checkpoint_path": final})
            return status
        if error is None and self.asked_stop:
            status.status = "stopped"
            status.log(f"stopped at step {status.current_step}; checkpoint saved")
            run.save_status()
            self.listener("task_result", {**ended, "status": "paused" if self.ctx.saw_pause else "stopped"})
            raise JobCancelled(f"training stopped at step {status.current_step} of {status.total_steps}; "
                               "checkpoint saved")
        reason = f"{type(error).__name__}: {error}" if error is not None else "the workers ended without a result"
        status.status, status.error = "failed", reason
        run.save_status()
        self.listener("task_result", {**ended, "status": "failed", "error": reason})
        raise EmbodiedError(f"distributed training of job {self.ctx.job.id} failed: {reason}",
                            ErrorCode.TRAINING_FAILED)
