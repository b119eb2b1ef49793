"""What a task needs of a worker: Ray's resources per worker, and why a cluster cannot place its workers
(never, or not now), from Ray nodes as data."""

from __future__ import annotations

import pytest

from embodied_ai.distributed.cluster import RayNode
from embodied_ai.distributed.requirements import Requirements, placement_problem
from embodied_ai.errors import InvalidRequest
from embodied_ai.experts.training_jobs import TrainingJobConfig


def node(cpus: float, ram_mb: float, gpu_mb: float = 0, free_cpus: float | None = None, alive: bool = True,
         name: str = "n") -> RayNode:
    return RayNode(id=name, address="127.0.0.1", alive=alive, is_head=False, cpu_cores=cpus, ram_mb=ram_mb, gpus=0,
                   gpu_memory_mb=gpu_mb, available_cpu=cpus if free_cpus is None else free_cpus,
                   available_ram_mb=ram_mb, available_gpus=0, worker=True)


def test_requirements_become_rays_resources_per_worker() -> None:
    assert Requirements().ray_resources() == {"CPU": 1.0}
    assert Requirements(min_cpu_cores=2, min_ram=512, min_gpu_memory=4096).ray_resources() == {
        "CPU": 2.0, "memory": 512 * 2**20, "gpu_memory_mb": 4096.0}


def test_a_node_holds_as_many_workers_as_its_scarcest_resource_allows() -> None:
    needs = Requirements(min_cpu_cores=2, min_ram=1000)
    assert needs.slots(node(8, 2500), free=False) == 2          # RAM for two
    assert needs.slots(node(8, 2500, free_cpus=1), free=True) == 0
    assert Requirements(min_gpu_memory=4000).slots(node(4, 100, gpu_mb=12000), free=False) == 3


def test_why_workers_cannot_be_placed_names_what_is_missing() -> None:
    cluster = [node(4, 8000, name="a"), node(2, 4000, name="b"), node(64, 10**6, alive=False, name="dead")]
    assert placement_problem(cluster, Requirements(min_cpu_cores=2), 3) is None
    never = placement_problem(cluster, Requirements(min_cpu_cores=8), 1)
    assert never == ("waiting for 1 workers with 8 CPU cores each: 0 of the cluster's 2 alive nodes can hold one "
                     "(the largest has 4 CPU cores, 8000 MB RAM, 0 MB GPU memory); join a worker that has them")
    busy = [node(4, 8000, free_cpus=0, name="a"), node(2, 4000, free_cpus=1, name="b")]
    assert placement_problem(busy, Requirements(min_cpu_cores=2), 1) == (
        "waiting for 1 workers with 2 CPU cores each: the nodes that have them are busy with other tasks")


def test_a_distributed_training_request_is_checked_as_a_whole() -> None:
    with pytest.raises(InvalidRequest) as refused:
        TrainingJobConfig.parse({"expert_id": "e", "distributed": True, "n_clients": 4, "batch_size": 2,
                                 "use_lora": False, "requirements": {"min_cpu_cores": 0, "min_vram": 1}})
    assert sorted(problem.split(":")[0] for problem in refused.value.problems) == [
        "requirements.min_cpu_cores", "requirements.min_vram"]
    with pytest.raises(InvalidRequest) as combined:
        TrainingJobConfig.parse({"expert_id": "e", "distributed": True, "n_clients": 4, "batch_size": 2,
                                 "use_lora": False})
    assert [problem.split(":")[0] for problem in combined.value.problems] == [
        "distributed", "batch_size"]
