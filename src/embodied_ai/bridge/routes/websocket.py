"""WebSocket /ws (the Robot API's WebSocket API): subscribe to channels and receive events.

Client messages: ``{"action": "subscribe" | "unsubscribe", "channels": [...]}``, ``{"action":
"ping"}``, and, when API keys or users are configured and the handshake had no Authorization
header, ``{"action": "authenticate", "api_key": "..."}`` (a key or an access token, also as
``"token"``) first (browsers cannot set that header). A channel the caller's role may not read
(``roles.CHANNEL_ROLES``) is refused with an ``error`` (403, INSUFFICIENT_PERMISSIONS).
Server messages: ``{"channel", "event", "data"}``; replies are ``{"event": "subscribed" |
"unsubscribed" | "pong" | "authenticated" | "error", ...}``.

Channels: ``hardware`` (state snapshots at hardware_event_hz, safety events, e-stop changes),
``inference`` (generations through the bridge, router statistics), ``training`` (the
train_expert feedback of jobs started through the bridge: ``progress`` {job_id, status, step,
total_steps, epoch, total_epochs, loss, eta_seconds, log}, the Robot API's ``epoch_completed``
{job_id, epoch, loss}, then ``completed`` / ``stopped`` / ``failed`` {job_id, version,
checkpoint_saved, code, message}; ``router_retraining`` / ``router_retrained``), ``cameras``
(JPEG frames with detections, for the dashboard), ``jobs`` (every job of the job system:
``submitted``, ``started``, ``progress``, ``completed``, ``failed``, ``cancelled``, ``requeued``
{job_id, type, status, progress, name}), ``cluster`` (seed 003's messages from the cluster distributed
training runs on, as the jobs node sends them: ``task``, ``task_progress``, ``task_result``,
``heartbeat``, ``control``, ``worker_lost``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError

from embodied_ai.bridge.errors import ApiError
from embodied_ai.bridge.events import CHANNELS, EventHub, Subscription
from embodied_ai.bridge.ports.hardware import HardwarePort
from embodied_ai.bridge.roles import channel_role
from embodied_ai.bridge.routes.hardware import sensors_in_api_units
from embodied_ai.bridge.routes.multimodal import detected_objects
from embodied_ai.bridge.security import Principal, Security
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.errors import GraphUnavailable

router = APIRouter()
AUTH_TIMEOUT_S = 10.0


class ClientMessage(BaseModel):
    action: str
    channels: list[str] = []
    api_key: str | None = None
    token: str | None = None  # an access token (api_key takes one too)


async def send_error(socket: WebSocket, code: int, message: str) -> None:
    await socket.send_json({"event": "error", "error": {"code": code, "message": message}})


async def authenticate(socket: WebSocket, security: Security) -> Principal | None:
    header = socket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    try:
        if token or not security.credentials_configured():
            principal = security.authenticate(token)  # keyless: anonymous
        else:
            first = ClientMessage.model_validate(await asyncio.wait_for(socket.receive_json(), AUTH_TIMEOUT_S))
            credential = first.api_key or first.token
            if first.action != "authenticate" or not credential:
                raise ApiError(401, "An API key is required: send {\"action\": \"authenticate\", \"api_key\": ...}")
            principal = security.authenticate(credential)
            await socket.send_json({"event": "authenticated"})
        security.consume(principal)  # a connection counts as one request
        return principal
    except (ApiError, ValidationError, TimeoutError, ValueError) as exc:
        status, message = (exc.status, exc.message) if isinstance(exc, ApiError) else (401, "authentication failed")
        await send_error(socket, status, message)
        await socket.close(code=1008)
        return None


async def pump_hub(socket: WebSocket, subscription: Subscription) -> None:
    while True:
        event = await subscription.queue.get()
        await socket.send_json({"channel": event.channel, "event": event.event, "data": event.data})


async def pump_state(socket: WebSocket, subscription: Subscription, hardware: HardwarePort,
                     settings: BridgeSettings) -> None:
    """Periodic snapshots read from the bridge's cache: hardware state, camera frames."""
    period = 1.0 / max(settings.hardware_event_hz, settings.camera_event_hz)
    next_state = next_frame = 0.0
    last_stamps: dict[str, float] = {}
    while True:
        now = time.monotonic()
        if "hardware" in subscription.channels and now >= next_state:
            next_state = now + 1.0 / settings.hardware_event_hz
            try:
                data = sensors_in_api_units(hardware.sensors()).model_dump(mode="json")
                await socket.send_json({"channel": "hardware", "event": "state", "data": data})
            except GraphUnavailable as exc:
                await socket.send_json({"channel": "hardware", "event": "unavailable",
                                        "data": {"code": int(exc.code), "message": exc.message}})
        if "cameras" in subscription.channels and now >= next_frame:
            next_frame = now + 1.0 / settings.camera_event_hz
            for camera in settings.cameras:
                await send_frame(socket, hardware, camera, last_stamps)
        await asyncio.sleep(period)


async def send_frame(socket: WebSocket, hardware: HardwarePort, camera: str, last_stamps: dict[str, float]) -> None:
    try:
        frame = hardware.camera_frame(camera)
    except GraphUnavailable as exc:
        if last_stamps.get(camera) != -1.0:  # say it once, not at every period
            last_stamps[camera] = -1.0
            await socket.send_json({"channel": "cameras", "event": "unavailable",
                                    "data": {"camera": camera, "code": int(exc.code), "message": exc.message}})
        return
    if last_stamps.get(camera) == frame.stamp:
        return
    last_stamps[camera] = frame.stamp
    found = detected_objects(frame.detections)
    await socket.send_json({"channel": "cameras", "event": "frame", "data": {
        "camera": camera, "width": frame.width, "height": frame.height, "stamp": frame.stamp,
        "jpeg_base64": base64.b64encode(frame.jpeg).decode("ascii"),
        "detections": [d.model_dump(by_alias=True) for d in found]}})


@router.websocket("/ws")
async def events_socket(socket: WebSocket) -> None:
    app = socket.app
    hub: EventHub = app.state.hub
    await socket.accept()
    principal = await authenticate(socket, app.state.security)
    if principal is None:
        return
    subscription = hub.open()
    pumps = [asyncio.create_task(pump_hub(socket, subscription)),
             asyncio.create_task(pump_state(socket, subscription, app.state.ports.hardware, app.state.settings))]
    try:
        while True:
            try:
                message = ClientMessage.model_validate(await socket.receive_json())
            except (ValidationError, ValueError):
                await send_error(socket, 400, "messages are JSON objects with an 'action'")
                continue
            channels = [c for c in message.channels if c in CHANNELS]
            unknown = sorted(set(message.channels) - set(CHANNELS))
            if message.action == "subscribe":
                refused = [c for c in channels if principal.role < channel_role(c)]
                if refused:
                    await socket.send_json({"event": "error", "channels": refused, "error": {
                        "code": 403, "error_code": "INSUFFICIENT_PERMISSIONS",
                        "message": f"role '{principal.role.label}' may not read {', '.join(refused)}"}})
                channels = [c for c in channels if c not in refused]
                subscription.channels.update(channels)
                await socket.send_json({"event": "subscribed", "channels": sorted(subscription.channels),
                                        "unknown": unknown})
            elif message.action == "unsubscribe":
                subscription.channels.difference_update(channels)
                await socket.send_json({"event": "unsubscribed", "channels": sorted(subscription.channels)})
            elif message.action == "ping":
                await socket.send_json({"event": "pong"})
            else:
                await send_error(socket, 400, f"unknown action '{message.action}'")
    except WebSocketDisconnect:
        pass
    finally:
        hub.close(subscription)
        for pump in pumps:
            pump.cancel()
        for pump in pumps:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await pump

