"""A real Ray cluster of two nodes on loopback (one CPU slot each), started once for the module that asks
for it, and the experts' fixtures (the built base, a service on a fresh state directory)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from embodied_ai.distributed.cluster import RAY_NAMESPACE, import_ray
from tests.unit.experts.conftest import base, engine, service  # noqa: F401 - the experts' fixtures, shared


class TwoNodes:
    """The head (where the driver runs) and one more node, each with one CPU slot."""

    def __init__(self) -> None:
        ray = import_ray(loopback=True)   # Ray's single-host mode: every process on 127.0.0.1
        from ray.cluster_utils import Cluster

        self.ray = ray
        self.cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
        self.worker = self.add_worker()
        ray.init(address=self.address, namespace=RAY_NAMESPACE, log_to_driver=False)

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_worker(self) -> Any:
        return self.cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1", wait=True)

    def kill_worker(self) -> None:
        """The non-head node dies, as a machine that loses power (its raylet and workers are killed)."""
        self.cluster.remove_node(self.worker, allow_graceful=False)

    def wait_idle(self, timeout_s: float = 60) -> None:
        """Until every CPU slot is free again: the last test's workers have released theirs (Ray Train would
        otherwise start a job's group with fewer workers than asked, elastically)."""
        deadline = time.monotonic() + timeout_s
        while self.ray.available_resources().get("CPU", 0) < self.ray.cluster_resources().get("CPU", 0):
            assert time.monotonic() < deadline, f"the cluster is still busy: {self.ray.available_resources()}"
            time.sleep(0.2)

    def close(self) -> None:
        self.ray.shutdown()
        self.cluster.shutdown()


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodes]:
    nodes = TwoNodes()
    yield nodes
    nodes.close()
