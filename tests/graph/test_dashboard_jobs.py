"""The dashboard's Jobs page in headless Chromium against the running graph: the job list, a
pipeline's steps as a DAG coloured by state (read back from a screenshot), its log, and a job
submitted while the page is open appearing by itself (the WebSocket's jobs channel)."""

from __future__ import annotations

import csv
import time

import httpx

from tests.graph.bridge_helpers import base_url as base_url_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import http as http_fixture  # noqa: F401 (a fixture)
from tests.graph.conftest import LaunchedGraph
from tests.graph.test_dashboard import (
    browser,  # noqa: F401 (a fixture)
    element,
    mean_colour,
    wait_for,
)
from tests.graph.test_jobs_api import ROWS, pipeline


def submit_pipeline(graph: LaunchedGraph, http: httpx.Client, name: str) -> int:
    datasets = graph.bridge_state_dir / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    with open(datasets / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("question", "answer"), *ROWS])
    body = pipeline(f"{name}.csv")
    body["name"] = name
    response = http.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["data"]["job_id"])


def wait_completed(http: httpx.Client, job_id: int) -> None:
    deadline = time.monotonic() + 60
    while (status := http.get(f"/v1/jobs/{job_id}").json()["data"]["status"]) != "completed":
        assert time.monotonic() < deadline and status not in ("failed", "cancelled"), status
        time.sleep(0.3)


def test_the_jobs_page_shows_a_pipeline_as_a_dag_with_its_log(graph: LaunchedGraph, http: httpx.Client,  # noqa: F811
                                                             base_url: str, browser) -> None:  # noqa: F811
    job_id = submit_pipeline(graph, http, "page_first")
    wait_completed(http, job_id)
    browser.get(f"{base_url}/dashboard/jobs.html")
    row = f"tr[data-job='{job_id}']"
    wait_for(browser, lambda: browser.find_elements("css selector", row), 20, "the job's row")
    browser.find_element("css selector", row).click()
    steps = lambda: browser.find_elements("css selector", "#dag .step.completed")  # noqa: E731
    wait_for(browser, lambda: len(steps()) == 3, 20, "three completed steps")
    assert [s.get_attribute("data-agent") for s in steps()] == ["dataset", "validation", "preprocessing"]
    red, green, blue = mean_colour(steps()[0].screenshot_as_png)
    assert green > red and green > blue, "a completed step shows green"
    log = element(browser, "job-log")
    wait_for(browser, lambda: "preprocessing" in log.text, 20, "the job's log lines")
    assert element(browser, "loss-status").text == "no loss yet"   # data steps report no loss
    browser.save_screenshot("/tmp/dashboard-jobs.png")

    later = submit_pipeline(graph, http, "page_second")   # the page is open: it must appear by itself
    wait_for(browser, lambda: browser.find_elements("css selector", f"tr[data-job='{later}']"), 30,
             "a job submitted while the page is open")
