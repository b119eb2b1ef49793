"""The bridge app over a real job system in this process, served by uvicorn on a free loopback
port: for clients that speak real HTTP (the SDK, `embodied jobs`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from embodied_ai.bridge.app import create_app
from embodied_ai.bridge.settings import BridgeSettings
from tests.unit.bridge.fake_ports import FakeGraph
from tests.unit.bridge.local_jobs import LocalJobs


@contextmanager
def serving(app: object) -> Iterator[str]:
    """The base URL of ``app`` served by uvicorn on a free loopback port, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)   # TCP_NODELAY, as the node
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def served_bridge(state_dir: Path) -> Iterator[str]:
    """The base URL of a bridge whose jobs, webhooks and ops logs are real (count jobs only)."""
    jobs = LocalJobs(state_dir)
    app = create_app(FakeGraph(jobs, jobs.webhooks, jobs.operations).ports(), BridgeSettings(state_dir=state_dir))
    try:
        with serving(app) as url:
            yield url
    finally:
        jobs.close()
