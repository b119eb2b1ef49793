"""The bridge app with a real cluster (ClusterService's local backend over LocalJobs' store) behind its
ClusterPort, in a TestClient or served on a loopback port: for the tasks and clients routes, the SDK and
`embodied cluster`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import LocalCluster, LocalJobs
from tests.unit.bridge.served import serving


@contextmanager
def cluster_app(jobs: LocalJobs, directory: Path, settings: BridgeSettings) -> Iterator[tuple[FastAPI, LocalCluster]]:
    """The app over ``jobs`` with a LocalCluster whose events reach the WebSocket's ``cluster`` channel."""
    graph = FakeGraph(jobs, jobs.webhooks, jobs.operations)
    cluster = LocalCluster(jobs, directory, graph.emit)
    try:
        yield create_app(replace(graph.ports(), cluster=cluster), settings), cluster
    finally:
        cluster.close()


@contextmanager
def cluster_client(directory: Path, settings: BridgeSettings) -> Iterator[tuple[TestClient, LocalCluster]]:
    jobs = LocalJobs(directory)
    try:
        with cluster_app(jobs, directory, settings) as (app, cluster), TestClient(app) as client:
            yield client, cluster
    finally:
        jobs.close()


@contextmanager
def served_cluster(directory: Path) -> Iterator[str]:
    """The base URL of such a bridge served by uvicorn (no keys: anonymous clients, as served_bridge)."""
    jobs = LocalJobs(directory)
    try:
        with cluster_app(jobs, directory, BridgeSettings(state_dir=directory)) as (app, _), serving(app) as url:
            yield url
    finally:
        jobs.close()
