"""Distributed training jobs on a real two-node Ray cluster (loopback, one CPU slot per node), through the
job system the jobs node runs (JobSystem with the ray backend) and the real base: a 2-worker LoRA job
follows a 1-worker job's loss curve on the same global batch; pause then resume continues from the
checkpoint, no step trained twice or skipped; a worker node killed mid-run leaves the job to finish on
the other; a task no node can take waits and says why; what cannot run is refused at submit; a worker
joins with `embodied worker join` (and one of another version is refused); the REST and WebSocket views
(seed 003's client) agree with Ray's own state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embodied_ai import __version__
from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.distributed.cluster import (
    RAY_NAMESPACE,
    VERSION_KEY,
    WORKER_RESOURCE,
    ClusterUnavailable,
    reachable,
)
from embodied_ai.errors import InvalidRequest
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.jobs import Job, JobStatus, LogLevel
from embodied_ai.jobs.config import JobsNodeConfig
from embodied_ai.jobs.system import JobSystem
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import ClusterServicePort, JobsServicePort, LocalJobs
from tests.unit.bridge.test_routes_websocket import receive_until
from tests.unit.distributed.conftest import TwoNodes

pytestmark = pytest.mark.timeout(900)

EXPERT = "tiny_sums"
# Four rows per global step, a checkpoint after every step, a learning rate that moves the loss.
QUICK = {"batch_size": 4, "save_steps": 1, "warmup_steps": 0, "learning_rate": 1e-3}
EMBODIED = str(Path(sys.executable).with_name("embodied"))
LOOPBACK = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}   # a worker on this machine: Ray on 127.0.0.1
SAME_CURVE = 1e-3     # loss per step, 2 workers vs 1: float reduction order only (measured: < 1e-5)


@pytest.fixture
def system(two_nodes: TwoNodes, base: BuiltBase, tmp_path: Path) -> Iterator[JobSystem]:
    config = JobsNodeConfig(state_dir=str(tmp_path / "state"), poll_s=0.1, backend="ray",
                            ray_address=two_nodes.address)
    two_nodes.wait_idle()
    system = JobSystem.open(config, base=lambda: base)
    system.experts.create(EXPERT, "Sums", "math", status="ready")
    rows = "".join(json.dumps({"prompt": f"what is {i} plus 1", "completion": str(i + 1)}) + "\n" for i in range(16))
    system.datasets.add(rows.encode(), "sums.jsonl", expert=EXPERT)
    system.start()
    yield system
    system.close(timeout_s=60)


def submit(system: JobSystem, **config: object) -> Job:
    return system.runner.submit("training", {"expert_id": EXPERT, **QUICK, "distributed": True, **config})


def wait(system: JobSystem, job_id: int, until: Callable[[Job], bool], timeout_s: float = 300) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = system.store.get(job_id)
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is still {system.store.get(job_id).status.value}: "
                         f"{[line.message for line in system.store.logs(job_id, limit=1000)][-5:]}")


def losses(system: JobSystem, job_id: int) -> list[tuple[int, float]]:
    return [(int(line.step or 0), float(line.loss or 0)) for line in system.store.logs(job_id, limit=1000)
            if line.level is LogLevel.METRIC]


def messages(system: JobSystem, job_id: int) -> list[str]:
    return [line.message for line in system.store.logs(job_id, limit=1000)]


def test_two_workers_follow_the_loss_curve_of_one_worker_on_the_same_global_batch(
        system: JobSystem, two_nodes: TwoNodes) -> None:
    one = submit(system, n_clients=1, max_steps=4)
    one = wait(system, one.id, lambda job: job.status.terminal)
    two = submit(system, n_clients=2, max_steps=4)
    two = wait(system, two.id, lambda job: job.status.terminal)
    assert (one.status, two.status) == (JobStatus.COMPLETED, JobStatus.COMPLETED), (one.error, two.error)
    curve_one, curve_two = losses(system, one.id), losses(system, two.id)
    assert [step for step, _ in curve_one] == [step for step, _ in curve_two] == [1, 2, 3, 4]
    assert max(abs(a - b) for (_, a), (_, b) in zip(curve_one, curve_two)) < SAME_CURVE
    # Each run registered a version of the expert, as a local job does.
    assert (one.result or {})["version"] == 1 and (two.result or {})["version"] == 2
    assert system.experts.get(EXPERT).status == "ready"
    # Every worker got its rank of the world, on its own node (SPREAD), as Ray sees its nodes.
    workers = system.cluster.task_metrics(two.id)["workers"]
    assert sorted((w["rank"], w["world_size"], w["outcome"]) for w in workers) == [
        (0, 2, "completed"), (1, 2, "completed")]
    alive = {node["NodeID"] for node in two_nodes.ray.nodes() if node["Alive"]}
    assert {w["client_id"] for w in workers} == alive
    metrics = system.cluster.task_metrics(two.id)
    assert metrics["progress"] == 100.0 and [h["step"] for h in metrics["history"]] == [1, 2, 3, 4]
    assert metrics["metrics"]["world_size"] == 2 and metrics["metrics"]["samples_per_second"] > 0


def test_pause_then_resume_continues_from_the_checkpoint(system: JobSystem) -> None:
    job = submit(system, n_clients=2, max_steps=8)
    wait(system, job.id, lambda j: len(losses(system, j.id)) >= 2)
    system.jobs.pause(job.id, "make room")
    paused = wait(system, job.id, lambda j: j.status is not JobStatus.RUNNING)
    assert paused.status is JobStatus.PAUSED, paused.error
    reached = len(losses(system, job.id))
    assert 2 <= reached < 8
    time.sleep(1.0)   # paused means stopped: nothing trains meanwhile
    assert len(losses(system, job.id)) == reached
    assert system.jobs.resume(job.id, "room again").status is JobStatus.QUEUED
    done = wait(system, job.id, lambda j: j.status.terminal)
    assert done.status is JobStatus.COMPLETED, done.error
    assert [step for step, _ in losses(system, job.id)] == list(range(1, 9))   # none twice, none skipped
    assert any(m.startswith("resuming from checkpoint") and f"({reached} steps)" in m
               for m in messages(system, job.id))
    assert (done.result or {})["steps"] == 8


def test_a_task_no_worker_can_take_waits_and_says_why(system: JobSystem) -> None:
    job = submit(system, n_clients=1, max_steps=2, requirements={"min_cpu_cores": 8, "min_ram": 64})
    waiting = wait(system, job.id, lambda j: bool(system.jobs.view(j)["progress_detail"].get("waiting_reason")),
                   timeout_s=60)
    reason = system.jobs.view(waiting)["progress_detail"]["waiting_reason"]
    assert waiting.status is JobStatus.RUNNING and "8 CPU cores, 64 MB RAM" in reason
    assert "0 of the cluster's 2 alive nodes" in reason and "the largest has 1 CPU cores" in reason
    assert any(line.level is LogLevel.WARN and line.message == reason for line in system.store.logs(job.id))
    system.runner.cancel(job.id)
    assert wait(system, job.id, lambda j: j.status.terminal, timeout_s=30).status is JobStatus.CANCELLED


def test_what_cannot_run_is_refused_at_submit(system: JobSystem, two_nodes: TwoNodes) -> None:
    with pytest.raises(InvalidRequest) as too_many:
        submit(system, n_clients=3)
    assert "3 workers asked, the Ray cluster has 2 alive nodes" in too_many.value.problems[0]
    with pytest.raises(InvalidRequest) as small_batch:
        submit(system, n_clients=2, batch_size=1, use_lora=False)
    assert sorted(small_batch.value.problems) == [
        "batch_size: the global batch (1) must hold at least one row per worker (n_clients 2)",
        "distributed: distributed training adapts the base with LoRA (use_lora true)"]
    with pytest.raises(ClusterUnavailable, match="'127.0.0.1:1' cannot be reached"):
        reachable(two_nodes.ray, "127.0.0.1:1", timeout_s=2)
    assert system.store.list()[1] == 0   # nothing was stored


def test_a_lost_worker_node_leaves_the_job_to_finish_on_the_other(system: JobSystem, two_nodes: TwoNodes) -> None:
    job = submit(system, n_clients=2, max_steps=10)
    wait(system, job.id, lambda j: len(losses(system, j.id)) >= 3)
    lost = two_nodes.worker.node_id
    two_nodes.kill_worker()
    try:
        done = wait(system, job.id, lambda j: j.status.terminal, timeout_s=420)
    finally:
        two_nodes.worker = two_nodes.add_worker()   # the next module's tests find two nodes again
    assert done.status is JobStatus.COMPLETED, done.error
    said = messages(system, job.id)
    assert any(m.startswith(f"worker lost: node {lost[:12]}") for m in said), said
    assert "worker group of 1 started" in " ".join(said)
    steps = [step for step, _ in losses(system, job.id)]
    assert steps[-1] == 10 and set(steps) == set(range(1, 11))   # a step after the last checkpoint may run again
    workers = system.cluster.task_metrics(job.id)["workers"]
    assert {w["outcome"] for w in workers if w["client_id"] == lost} & {"lost", "restarted"}
    assert [w["world_size"] for w in workers if w["outcome"] == "completed"] == [1]
    assert (done.result or {})["version"] >= 1


def test_a_worker_joins_with_embodied_worker_join_and_leaves_when_stopped(
        system: JobSystem, two_nodes: TwoNodes) -> None:
    system.cluster.workers()   # the product has joined the cluster (and recorded its version there)
    before = {node["NodeID"] for node in two_nodes.ray.nodes()}
    started = time.monotonic()
    worker = subprocess.Popen([EMBODIED, "worker", "join", two_nodes.address, "--num-cpus", "1",
                               "--gpu-memory-mb", "2048", "--node-ip-address", "127.0.0.1"],
                              env=LOOPBACK, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                              text=True)
    try:
        deadline = time.monotonic() + 90
        while not (joined := [n for n in two_nodes.ray.nodes() if n["NodeID"] not in before and n["Alive"]]):
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker did not join in 90 s"
            time.sleep(0.5)
        node = joined[0]
        said = worker.stdout.readline() if worker.stdout else ""   # printed once its node runs: stoppable
        assert f"node {node['NodeID']} (127.0.0.1) joined {two_nodes.address} as a worker" in said, said
        assert node["Resources"][WORKER_RESOURCE] == 1 and node["Resources"]["gpu_memory_mb"] == 2048
        listed = {w["id"]: w for w in system.cluster.workers()}[node["NodeID"]]
        assert listed["joined_as_worker"] and listed["status"] == "online" and listed["resources"]["cpu_cores"] == 1
        print(f"joined in {time.monotonic() - started:.1f} s")
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGTERM)   # by its PID, as a supervisor stops it
        out = worker.communicate(timeout=60)[0]
    assert worker.returncode == 0 and "left the cluster" in out, out
    deadline = time.monotonic() + 60
    while any(n["Alive"] for n in two_nodes.ray.nodes() if n["NodeID"] == node["NodeID"]):
        assert time.monotonic() < deadline, "the worker's node is still alive after its join was stopped"
        time.sleep(0.5)


def test_a_worker_of_another_version_is_refused_naming_both(two_nodes: TwoNodes, system: JobSystem) -> None:
    from ray.experimental import internal_kv  # Ray is imported by the cluster fixture, not at collection

    internal_kv._internal_kv_put(VERSION_KEY, b"9.9.9", overwrite=True, namespace=RAY_NAMESPACE)
    try:
        joined = subprocess.run([EMBODIED, "worker", "join", two_nodes.address, "--node-ip-address", "127.0.0.1"],
                                capture_output=True, text=True, timeout=120, env=LOOPBACK)
    finally:
        internal_kv._internal_kv_put(VERSION_KEY, __version__.encode(), overwrite=True, namespace=RAY_NAMESPACE)
    assert joined.returncode == 2
    assert f"this machine runs embodied {__version__} and the cluster at {two_nodes.address} runs embodied 9.9.9" \
        in joined.stderr
    unreachable = subprocess.run([EMBODIED, "worker", "join", "127.0.0.1:1"],
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 2 and "'127.0.0.1:1' cannot be reached" in unreachable.stderr


def test_the_rest_and_websocket_views_agree_with_rays_state(system: JobSystem, two_nodes: TwoNodes,
                                                             tmp_path: Path) -> None:
    """A client written from seed 003 (REST and the ``cluster`` channel) over the bridge app, whose jobs and
    cluster ports are this system's, as the jobs node serves them."""
    local = LocalJobs(tmp_path / "bridge")   # the bridge's other ports (webhooks, datasets, ...), unused here
    graph = FakeGraph(local, local.webhooks, local.operations)
    events = system.cluster.on_event(lambda type, data: graph.emit("cluster", type, data))
    ports = replace(graph.ports(), jobs=JobsServicePort(system.jobs), cluster=ClusterServicePort(system.cluster))
    try:
        with TestClient(create_app(ports, BridgeSettings(state_dir=tmp_path / "bridge"))) as client, \
                client.websocket_connect("/ws") as socket:
            socket.send_json({"action": "subscribe", "channels": ["cluster"]})
            assert socket.receive_json()["channels"] == ["cluster"]
            system.cluster.sample()
            heard = receive_until(socket, "cluster", "heartbeat")["data"]
            nodes = {node["NodeID"]: node for node in two_nodes.ray.nodes()}
            listed = client.get("/v1/clients", params={"limit": 50})
            assert listed.status_code == 200 and int(listed.headers["X-Total-Count"]) == len(nodes)
            clients = {c["id"]: c for c in listed.json()["data"]["clients"]}
            assert set(clients) == set(nodes) and heard["client_id"] in clients
            for node_id, node in nodes.items():
                assert (clients[node_id]["status"] == "offline") is not node["Alive"]
                assert clients[node_id]["resources"]["cpu_cores"] == node["Resources"].get("CPU", 0)
            alive = [node_id for node_id, node in nodes.items() if node["Alive"]]
            assert client.get(f"/v1/clients/{alive[0]}").json()["data"]["last_seen"]

            created = client.post("/v1/tasks", json={
                "type": "training", "name": EXPERT, "url": "http://models.local/tiny_sums/1.0", "version": "1.0",
                "batch_size": 4, "learning_rate": 0.001, "epochs": 1, "distributed": True,
                "requirements": {"min_gpu_memory": 0, "min_cpu_cores": 1, "min_ram": 1}, "n_clients": 2,
                "max_steps": 3})
            assert created.status_code == 201, created.text
            task_id = created.json()["data"]["id"]
            heard_types, assigned = [], []
            for _ in range(2000):   # heartbeats every few seconds keep the channel moving: this ends
                message = socket.receive_json()
                if message.get("channel") != "cluster":
                    continue
                heard_types.append(message["event"])
                if message["event"] == "task":
                    assigned.append(message["data"])
                if message["event"] == "task_result":
                    result = message["data"]
                    break
            else:
                raise AssertionError(f"no task_result among {heard_types}")
            assert {"task", "task_progress", "task_result"} <= set(heard_types)
            assert sorted(a["rank"] for a in assigned) == [0, 1] and {a["world_size"] for a in assigned} == {2}
            assert {a["client_id"] for a in assigned} == set(alive) and result["status"] == "completed"
            task = wait(system, int(task_id), lambda j: j.status.terminal)
            assert task.status is JobStatus.COMPLETED, task.error
            detail = client.get(f"/v1/tasks/{task_id}").json()["data"]
            assert (detail["status"], detail["progress"], detail["n_clients"]) == ("completed", 100.0, 2)
            metrics = client.get(f"/v1/metrics/tasks/{task_id}").json()["data"]
            assert [h["step"] for h in metrics["history"]] == [1, 2, 3]
            assert {w["client_id"] for w in metrics["workers"]} == set(alive)
            for node_id in alive:
                performance = client.get(f"/v1/clients/{node_id}").json()["data"]["performance"]
                assert performance["completed_tasks"] >= 1 and performance["success_rate"] == 1.0
    finally:
        events()
        local.close()
