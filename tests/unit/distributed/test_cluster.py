"""The cluster as the job system holds it, without a cluster: Ray missing (as on a machine set up without
the extra) is a clear error that names the install command, and the local backend refuses distributed jobs
while everything else works; an address that is not one is refused before Ray would retry it for minutes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from embodied_ai.distributed.cluster import RAY_MISSING, ClusterSettings, ClusterUnavailable, RayCluster, import_ray
from embodied_ai.errors import ErrorCode, InvalidRequest
from embodied_ai.experts.base_build import BuiltBase
from embodied_ai.jobs.config import JobsNodeConfig
from embodied_ai.jobs.system import JobSystem


def never_built() -> BuiltBase:
    raise AssertionError("these jobs are refused before any base is needed")


def test_without_ray_the_ray_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)   # what `import ray` meets where the extra is not installed
    with pytest.raises(ClusterUnavailable) as missing:
        import_ray()
    assert str(missing.value) == RAY_MISSING and missing.value.code is ErrorCode.SERVICE_UNAVAILABLE
    assert "requirements/distributed.txt" in RAY_MISSING
    with pytest.raises(ClusterUnavailable):
        RayCluster(ClusterSettings(address="")).connect()
    system = JobSystem.open(JobsNodeConfig(state_dir=str(tmp_path), backend="ray"), base=never_built)
    try:
        system.experts.create("e", "E", "math", status="ready")
        system.datasets.add(b'{"prompt": "a", "completion": "b"}\n', "d.jsonl", expert="e")
        with pytest.raises(ClusterUnavailable, match="needs Ray"):
            system.runner.submit("training", {"expert_id": "e", "distributed": True})
        assert system.cluster.backend == "ray" and system.store.list()[1] == 0
    finally:
        system.close()


def test_the_local_backend_refuses_distributed_jobs_and_shows_this_machine(tmp_path: Path) -> None:
    system = JobSystem.open(JobsNodeConfig(state_dir=str(tmp_path)), base=never_built)
    try:
        system.experts.create("e", "E", "math", status="ready")
        system.datasets.add(b'{"prompt": "a", "completion": "b"}\n', "d.jsonl", expert="e")
        with pytest.raises(InvalidRequest) as refused:
            system.runner.submit("training", {"expert_id": "e", "distributed": True})
        assert refused.value.problems == ["distributed: distributed training needs the ray backend: start "
                                          "with `embodied up --set jobs.backend=ray` (docs/distributed.md)"]
        (worker,) = system.cluster.workers()
        assert (worker["id"], worker["status"], worker["tasks"]) == ("local", "online", [])
        assert worker["resources"]["cpu_cores"] >= 1 and worker["performance"]["completed_tasks"] == 0
        assert system.cluster.view("worker", worker_id="local")["id"] == "local"
        with pytest.raises(InvalidRequest, match="unknown cluster view"):
            system.cluster.view("nodes")
    finally:
        system.close()


def test_an_empty_address_starts_a_one_node_cluster_on_loopback_and_stops_it() -> None:
    """In a fresh interpreter, as the jobs node starts it: every node on 127.0.0.1; closed, no Ray process of
    it is left."""
    script = (
        "import json, psutil\n"
        "from embodied_ai.distributed.cluster import ClusterSettings, RayCluster\n"
        "cluster = RayCluster(ClusterSettings(address=''))\n"
        "nodes = cluster.nodes()\n"
        "children = [p.pid for p in psutil.Process().children(recursive=True)]\n"
        "cluster.close()\n"
        "print(json.dumps({'addresses': [n.address for n in nodes], 'children': children}))\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    seen = json.loads(ran.stdout.strip().splitlines()[-1])
    assert seen["addresses"] == ["127.0.0.1"] and seen["children"]   # Ray's GCS and raylet ran as its children
    deadline = time.monotonic() + 30
    while alive := [pid for pid in seen["children"] if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]:
        assert time.monotonic() < deadline, f"still running after close: {alive}"
        time.sleep(0.5)
