"""The dashboard's cluster page in a real headless Chromium against the real bridge app with a real job
system and cluster (no ROS graph): the local worker is listed, and a running task is paused and resumed
from its buttons."""

from __future__ import annotations

from pathlib import Path

from embodied_ai.sdk import Client
from tests.browser import wait_for
from tests.unit.bridge.cluster_app import served_cluster


def test_workers_and_a_task_paused_and_resumed_from_the_page(browser, tmp_path: Path) -> None:
    with served_cluster(tmp_path) as url, Client(base_url=url) as client:
        task = client.cluster.create_task("kitchen", max_steps=40)
        browser.get(f"{url}/dashboard/cluster.html")
        text = lambda element_id: browser.find_element("id", element_id).text  # noqa: E731
        wait_for(lambda: text("workers-total") == "1 (local)", 10, "the local worker")
        assert "cores" in text("workers")
        wait_for(lambda: client.cluster.task(task.id).status == "running", 10, "the task to run")
        browser.refresh()
        wait_for(lambda: bool(browser.find_elements("css selector", f"tr[data-task='{task.id}'] .task-pause")), 10,
                 "the pause button")
        browser.find_element("css selector", f"tr[data-task='{task.id}'] .task-pause").click()
        wait_for(lambda: client.cluster.task(task.id).status == "paused", 10, "the pause")
        wait_for(lambda: bool(browser.find_elements("css selector", f"tr[data-task='{task.id}'] .task-resume")), 10,
                 "the resume button")
        browser.find_element("css selector", f"tr[data-task='{task.id}'] .task-resume").click()
        wait_for(lambda: client.cluster.task(task.id).status in ("pending", "running", "completed"), 10, "the resume")
        client.cluster.stop_task(task.id)
