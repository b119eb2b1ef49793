"""The WebSocket: channels, the graph's events, periodic hardware state and camera frames."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from embodied_ai.bridge.ports.hardware import CameraFrame
from tests.unit.bridge.fake_ports import FakeGraph

MAX_MESSAGES = 500  # hardware state comes at 50 Hz in between: seconds of it on a loaded machine


def receive_until(socket: WebSocketTestSession, channel: str, event: str) -> dict[str, Any]:
    for _ in range(MAX_MESSAGES):
        message: dict[str, Any] = socket.receive_json()
        if message.get("channel") == channel and message.get("event") == event:
            return message
    raise AssertionError(f"no {channel}/{event} event in {MAX_MESSAGES} messages")


def test_subscribe_ping_and_unknown_messages(client: TestClient) -> None:
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "subscribe", "channels": ["training", "weather"]})
        assert socket.receive_json() == {"event": "subscribed", "channels": ["training"], "unknown": ["weather"]}
        socket.send_json({"action": "ping"})
        assert socket.receive_json() == {"event": "pong"}
        socket.send_json({"action": "dance"})
        assert socket.receive_json()["error"] == {"code": 400, "message": "unknown action 'dance'"}
        socket.send_text("not json")
        assert socket.receive_json()["error"]["code"] == 400
        socket.send_json({"action": "unsubscribe", "channels": ["training"]})
        assert socket.receive_json() == {"event": "unsubscribed", "channels": []}


def test_graph_events_reach_the_channel_subscribers(client: TestClient) -> None:
    client.post("/v1/experts/create", json={"name": "a", "domain": "a"})
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "subscribe", "channels": ["training", "inference"]})
        socket.receive_json()
        client.post("/v1/training/start", json={"expert_id": 1, "dataset_id": 0})
        assert receive_until(socket, "training", "progress")["data"] == {"job_id": 1, "status": "running"}
        client.post("/v1/inference/generate", json={"prompt": "x"})
        completed = receive_until(socket, "inference", "generation_completed")["data"]
        assert completed["expert"] == "general" and completed["tokens_generated"] == 2


def test_hardware_state_and_emergency_stop_events(client: TestClient) -> None:
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "subscribe", "channels": ["hardware"]})
        assert receive_until(socket, "hardware", "state")["data"]["backend"] == "sim"
        client.post("/v1/hardware/emergency_stop")
        assert receive_until(socket, "hardware", "emergency_stop")["data"] == {"latched": True, "reason": "operator"}


def test_camera_frames_with_their_detections(client: TestClient, fake: FakeGraph) -> None:
    fake.frames["head_camera"] = CameraFrame("head_camera", b"\xff\xd8jpeg", 640, 480, 12.5, fake.detections)
    with client.websocket_connect("/ws") as socket:
        socket.send_json({"action": "subscribe", "channels": ["cameras"]})
        frame = receive_until(socket, "cameras", "frame")["data"]
        assert (frame["camera"], frame["width"], frame["stamp"]) == ("head_camera", 640, 12.5)
        assert base64.b64decode(frame["jpeg_base64"]) == b"\xff\xd8jpeg"
        assert frame["detections"][0]["class"] == "cup" and frame["detections"][0]["center"] == [20.0, 40.0]
        missing = receive_until(socket, "cameras", "unavailable")["data"]
        assert missing["camera"] == "wrist_camera" and missing["code"] == 4000
