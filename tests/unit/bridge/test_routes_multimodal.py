"""Multimodal routes: detect, transcribe, synthesize, and all at once through the commander."""

from __future__ import annotations

import io
import wave

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import WAV_HEADER, FakeGraph


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(16000)
        sound.writeframes(b"\x00\x00" * 1600)
    return buffer.getvalue()


def test_detect_answers_boxes_and_centres(client: TestClient) -> None:
    found = data(client.post("/v1/vision/detect", files={"image": ("a.png", png(), "image/png")}))
    assert found["num_objects"] == 1 and found["inference_time_ms"] == 8.0
    assert found["detections"] == [{"class": "cup", "confidence": 0.9, "bbox": [10.0, 20.0, 30.0, 60.0],
                                    "center": [20.0, 40.0], "object_id": 3}]


def test_detect_refuses_what_is_not_an_image_by_its_content(client: TestClient, fake: FakeGraph) -> None:
    error(client.post("/v1/vision/detect", files={"image": ("a.png", wav(), "image/png")}), 400, 400)
    assert not fake.calls


def test_transcribe_passes_the_language(client: TestClient, fake: FakeGraph) -> None:
    heard = data(client.post("/v1/audio/transcribe", files={"audio": ("a.wav", wav(), "audio/wav")},
                             data={"language": "de"}))
    assert heard == {"text": "wave your right hand", "language": "de", "confidence": 0.93, "duration_seconds": 1.5}
    assert fake.calls[-1][1][1] == "de"  # type: ignore[index]


def test_synthesize_answers_a_wav_with_its_duration(client: TestClient) -> None:
    response = client.post("/v1/audio/synthesize", json={"text": "hello robot", "speed": 2.0})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert response.content.startswith(WAV_HEADER) and response.headers["X-Audio-Duration-Seconds"] == "0.250"
    error(client.post("/v1/audio/synthesize", json={"text": "x", "voice": "pirate"}), 400, 400)


def test_process_transcribes_detects_and_carries_out_the_command(client: TestClient, fake: FakeGraph) -> None:
    result = data(client.post("/v1/multimodal/process", files={"audio": ("a.wav", wav(), "audio/wav"),
                                                               "image": ("a.png", png(), "image/png")}))
    understanding = result["understanding"]
    assert understanding["transcript"]["text"] == "wave your right hand"
    assert understanding["vision"]["objects"] == ["cup"] and understanding["vision"]["confidence"] == 0.9
    assert understanding["text"] == {"intent": "command", "actions": [{"action": "wave", "side": "r"}],
                                     "expert": "robot_control", "success": True}
    assert result["response"] == "Waving." and fake.calls[-1] == ("handle_command", "wave your right hand")


def test_process_answers_a_question_as_a_query(client: TestClient) -> None:
    result = data(client.post("/v1/multimodal/process", data={"text": "what time is it"}))
    assert result["understanding"]["text"]["intent"] == "query" and result["response"] == "You said: what time is it"


def test_a_command_refused_without_a_reply_is_its_error(client: TestClient) -> None:
    assert error(client.post("/v1/multimodal/process", data={"text": "fly away"}), 422, 4001)["details"] == \
        "the robot cannot fly"


@pytest.mark.parametrize("form", [{}, {"text": ""}])
def test_process_needs_something(client: TestClient, form: dict) -> None:
    error(client.post("/v1/multimodal/process", data=form), 400, 400)


def test_a_command_before_the_experts_are_ready_is_503_with_retry_after(client: TestClient) -> None:
    response = client.post("/v1/multimodal/process", data={"text": "too soon: raise your arm"})
    refused = error(response, 503, 1001)
    assert "not running or not active" in refused["details"] and response.headers["retry-after"] == "5"
