"""The operator dashboard in headless Chromium (Debian's chromium and chromedriver), against
the running graph: live joints, the e-stop button latching the e-stop seen over ROS, the head
camera (or its placeholder), the streamed chat and the audio command. Screenshots are read
back and checked, not only the DOM."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from embodied_interfaces.msg import HardwareState
from PIL import Image, ImageStat
from std_srvs.srv import Trigger

from tests.browser import headless_chromium
from tests.graph.bridge_helpers import base_url as base_url_fixture  # noqa: F401 (a fixture)
from tests.graph.bridge_helpers import has_action
from tests.graph.bridge_helpers import http as http_fixture  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def dashboard(browser, base_url, http):  # http: the bridge has seen the controller
    browser.get(f"{base_url}/")
    wait_for(browser, lambda: len(element(browser, "joints").find_elements("css selector", "tr")) == 12, 20,
             "the joints table filled from the WebSocket")
    return browser


def element(browser, element_id: str):
    return browser.find_element("id", element_id)


def wait_for(browser, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    browser.save_screenshot("/tmp/dashboard-failure.png")
    raise AssertionError(f"dashboard: timed out waiting for {what} (screenshot /tmp/dashboard-failure.png)")


def mean_colour(png: bytes) -> tuple[float, float, float]:
    return tuple(ImageStat.Stat(Image.open(io.BytesIO(png)).convert("RGB")).mean)


def test_joint_states_and_temperatures_are_live(dashboard, client):
    # The table is redrawn at every state message: read it in one go, in the page.
    rows = dict(dashboard.execute_script(
        "return Array.from(document.querySelectorAll('#joints tr')).map(r => [r.dataset.joint, r.innerText]);"))
    assert "shoulder_pitch_r" in rows and "gripper_l" in rows
    cells = rows["head_tilt"].split()
    state = client.latest(HardwareState, "/hardware_state")
    expected_temperature = state.temperatures[list(state.joint_names).index("head_tilt")]
    assert float(cells[2]) == pytest.approx(expected_temperature, abs=1.5)
    assert "Hz" in element(dashboard, "loop-rate").text


def test_the_estop_button_latches_the_estop_seen_over_ros(dashboard, client):
    client.call(Trigger, "/reset_emergency_stop", Trigger.Request())
    badge = element(dashboard, "estop-state")
    wait_for(dashboard, lambda: "released" in badge.text, 10, "the released e-stop badge")
    red, green, _ = mean_colour(badge.screenshot_as_png)
    assert green > red, "a released e-stop shows green"
    try:
        element(dashboard, "estop-button").click()
        states = client.collect(HardwareState, "/hardware_state", 5.0,
                                until=lambda ms: any(m.emergency_stop for m in ms))
        assert any(m.emergency_stop for _, m in states), "the click did not latch the e-stop over ROS"
        wait_for(dashboard, lambda: "LATCHED" in badge.text, 10, "the latched e-stop badge")
        red, green, _ = mean_colour(badge.screenshot_as_png)
        assert red > 1.5 * green, "a latched e-stop shows red"
        dashboard.save_screenshot("/tmp/dashboard-estop.png")
        element(dashboard, "estop-reset").click()
        states = client.collect(HardwareState, "/hardware_state", 5.0,
                                until=lambda ms: bool(ms) and not ms[-1].emergency_stop)
        assert not states[-1][1].emergency_stop
        wait_for(dashboard, lambda: "released" in badge.text, 10, "the badge released again")
    finally:
        client.call(Trigger, "/reset_emergency_stop", Trigger.Request())


def test_head_camera_shows_frames_or_a_clear_placeholder(dashboard, client):
    publishing = client.node.count_publishers("/head_camera/image_raw/compressed") > 0
    canvas = element(dashboard, "camera")
    status = element(dashboard, "camera-status")
    if publishing:
        wait_for(dashboard, lambda: "×" in status.text, 20, "a camera frame")
        pixels = Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("L")
        assert ImageStat.Stat(pixels).stddev[0] > 10, "the canvas holds an image, not a flat fill"
        assert "detections" in status.text
    else:
        wait_for(dashboard, lambda: status.text == "no frames", 20, "the placeholder")
        pixels = Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("L")
        assert ImageStat.Stat(pixels).mean[0] < 60, "the placeholder is a dark panel with a message"


def test_chat_streams_from_the_experts_or_says_why_not(dashboard, client):
    element(dashboard, "chat-input").send_keys("What is two plus two?")
    element(dashboard, "chat-send").click()
    log = element(dashboard, "chat-log")
    wait_for(dashboard, lambda: len(log.find_elements("css selector", ".msg")) >= 2, 10, "the chat answer line")
    answer = log.find_elements("css selector", ".msg")[-1]
    if has_action(client, "generate"):
        wait_for(dashboard, lambda: len(answer.text) > len("experts: "), 120, "streamed tokens")
    else:
        wait_for(dashboard, lambda: "1001" in answer.text, 10, "the experts-unavailable message")
        assert "unavailable" in answer.text and "error" in answer.get_attribute("class")


def test_audio_upload_runs_the_spoken_command_path(dashboard, client, http, tmp_path):
    if has_action(client, "speak"):
        audio = http.post("/v1/audio/synthesize", json={"text": "Robot, open your right hand."}).content
    else:
        from tests.graph.test_bridge_api import wav_bytes
        audio = wav_bytes()
    path = tmp_path / "command.wav"
    path.write_bytes(audio)
    element(dashboard, "audio-file").send_keys(str(path))
    element(dashboard, "audio-send").click()
    result = element(dashboard, "audio-result")
    wait_for(dashboard, lambda: result.text not in ("", "sending…"), 120, "the audio command's result")
    if has_action(client, "transcribe") and has_action(client, "command"):
        assert "heard:" in result.text and "hand" in result.text.lower(), result.text
    else:
        assert "503" in result.text or "not running" in result.text, result.text
