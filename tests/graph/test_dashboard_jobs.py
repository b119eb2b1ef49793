"""The dashboard's Jobs page in headless Chromium against the running graph: the job list, a
pipeline's steps as a DAG coloured by state (read back from a screenshot), its log, a job
submitted while the page is open appearing by itself (the WebSocket's jobs channel), and an
rl_training job's reward curve filling live as its episodes are logged."""

from __future__ import annotations

import csv
import io
import re
import statistics
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from PIL import Image

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


RL_TASK = {"name": "page_reward", "model_type": "q_learning", "total_episodes": 20,
           "env_config": {"max_episode_steps": 5, "control_rate_hz": 5.0}}
START_AFTER_S = 8.0   # the job is scheduled this far ahead: the page follows it before its first episode
REWARD_COLOUR, AVERAGE_COLOUR = (0x60, 0xA5, 0xFA), (0xF5, 0x9E, 0x0B)   # jobs.js's LINE_ and AVERAGE_COLOUR
CAPTION = re.compile(r"^(\d+) episodes · last reward (\S+) · moving average (\S+) · success rate (\d+) %$")


def submit_scheduled(http: httpx.Client, body: dict, job_type: str, start_after_s: float) -> int:
    """The job's id; it runs ``start_after_s`` from now (retried while the bridge still discovers the jobs node)."""
    start = datetime.now(timezone.utc) + timedelta(seconds=start_after_s)
    request = {"type": job_type, "name": body["name"], "parameters": body, "scheduled_at": start.isoformat()}
    deadline = time.monotonic() + 60
    while (response := http.post("/v1/jobs", json=request)).status_code == 503:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.5)
    assert response.status_code == 201, response.text
    return int(response.json()["data"]["job_id"])


def pixels_near(png: bytes, colour: tuple[int, int, int], tolerance: int = 60) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for pixel in image.getdata() if sum(abs(a - b) for a, b in zip(pixel, colour)) <= tolerance)


def test_the_jobs_page_draws_an_rl_training_jobs_reward_curve_live(http: httpx.Client, base_url: str,  # noqa: F811
                                                                  browser) -> None:  # noqa: F811
    job_id = submit_scheduled(http, RL_TASK, "rl_training", START_AFTER_S)
    browser.get(f"{base_url}/dashboard/jobs.html")
    row = f"tr[data-job='{job_id}']"
    wait_for(browser, lambda: browser.find_elements("css selector", row), 20, "the job's row")
    browser.find_element("css selector", row).click()
    caption = element(browser, "reward-status")
    wait_for(browser, lambda: caption.is_displayed(), 20, "the reward curve of an rl_training job")
    assert not element(browser, "loss-chart").is_displayed(), "an rl_training job shows its reward, not a loss"
    assert caption.text == "no episodes yet"
    assert http.get(f"/v1/jobs/{job_id}").json()["data"]["status"] == "pending", \
        f"the job started before the page followed it: raise START_AFTER_S ({START_AFTER_S} s)"

    # Nothing more is done on the page: the episodes come in through the job's live log.
    wait_for(browser, lambda: caption.text.startswith("20 episodes"), 90, "all 20 episodes on the curve")
    wait_completed(http, job_id)
    result = http.get(f"/v1/jobs/{job_id}").json()["data"]["result"]
    rewards = result["metrics"]["episode_rewards"]
    shown = CAPTION.match(caption.text)
    assert shown, caption.text
    assert float(shown[2]) == pytest.approx(rewards[-1], rel=1e-3, abs=1e-3)
    assert float(shown[3]) == pytest.approx(statistics.fmean(rewards[-10:]), rel=1e-3, abs=1e-3)
    assert abs(int(shown[4]) - 100 * result["success_rate"]) <= 0.5 + 1e-9   # its window (20) holds every episode
    legend = element(browser, "reward-legend").text
    assert "reward per episode" in legend and "moving average (10 episodes)" in legend
    assert element(browser, "reward").get_attribute("aria-label") == "reward by episode"
    png = element(browser, "reward").screenshot_as_png
    assert pixels_near(png, REWARD_COLOUR) > 100, "the reward line is drawn"
    assert pixels_near(png, AVERAGE_COLOUR) > 100, "the moving average's line is drawn"
    browser.save_screenshot("/tmp/dashboard-reward.png")
