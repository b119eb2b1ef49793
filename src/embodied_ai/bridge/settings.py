"""Settings of the REST bridge: the app's (``BridgeSettings``), the node's ROS parameters they
are made from (``RestBridgeConfig``), and how long the bridge waits for each kind of request to
the graph (``BridgeTimeouts``, the node's ``timeouts.*`` parameters)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from embodied_ai.bridge.keys import validate_rate_limit

LOOPBACK = "127.0.0.1"


class BridgeSettings(BaseModel):
    host: str = LOOPBACK
    port: int = Field(default=8000, ge=0, le=65535)  # 0 = any free port (tests)
    state_dir: Path
    # Requests without a key are allowed only while no key exists (and then only on
    # loopback); they share this limit. Keys carry their own limit.
    anonymous_rate_limit: str = "6000/hour"
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    cors_origins: list[str] = []  # empty = CORS off
    dashboard: bool = True
    cameras: list[str] = ["head_camera", "wrist_camera"]
    hardware_event_hz: float = Field(default=5.0, gt=0, le=50)
    camera_event_hz: float = Field(default=5.0, gt=0, le=30)

    @field_validator("anonymous_rate_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        return validate_rate_limit(value)


class RestBridgeConfig(BaseModel):
    """The rest_bridge node's ROS parameters (launch/robot.yaml); ``settings()`` makes the app's."""

    host: str = Field(default=LOOPBACK, description="address to listen on; beyond loopback only once an API key "
                                                    "exists (`embodied keys create`)")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port; 0 = any free port (the tests)")
    state_dir: str = Field(default="", description="folder of the API keys and uploads; \"\" = $EMBODIED_STATE_DIR "
                                                   "or ~/.local/state/embodied")
    anonymous_rate_limit: str = Field(default="6000/hour", description="requests without a key (allowed only while "
                                                                       "no key exists), e.g. 6000/hour")
    max_upload_mb: float = Field(default=25.0, gt=0, description="largest upload (image, audio, dataset), MiB")
    cors_origins: list[str] = Field(default=[""], description="origins CORS allows; [\"\"] = CORS off")
    dashboard: bool = Field(default=True, description="serve the operator dashboard at /dashboard")
    cameras: list[str] = Field(default=["head_camera", "wrist_camera"],
                               description="cameras whose latest frames the bridge keeps and streams")
    hardware_event_hz: float = Field(default=5.0, gt=0, le=50, description="hardware state events on the "
                                                                           "WebSocket, Hz")
    camera_event_hz: float = Field(default=5.0, gt=0, le=30, description="camera frames on the WebSocket, Hz")

    @field_validator("anonymous_rate_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        return validate_rate_limit(value)

    def settings(self, default_state_dir: Path) -> BridgeSettings:
        """The app's settings; an empty ``state_dir`` means ``default_state_dir``."""
        return BridgeSettings(
            host=self.host, port=self.port,
            state_dir=Path(self.state_dir).expanduser() if self.state_dir else default_state_dir,
            anonymous_rate_limit=self.anonymous_rate_limit, max_upload_bytes=int(self.max_upload_mb * 2**20),
            cors_origins=[origin for origin in self.cors_origins if origin], dashboard=self.dashboard,
            cameras=list(self.cameras), hardware_event_hz=self.hardware_event_hz,
            camera_event_hz=self.camera_event_hz)


class BridgeTimeouts(BaseModel):
    """How long the bridge waits for the graph, per kind of request, in seconds. Past it the
    request answers 504 (3001 TIMEOUT) and a goal still running is cancelled. Each bound is
    the slowest legitimate answer on a CPU-only robot, with room to spare: a timeout must mean
    that something is wrong, not that the robot is slow."""

    trigger_s: float = Field(default=5.0, gt=0, description=(
        "an emergency stop, its reset, or a training job's cancel request, s; these answer at once on a live "
        "node, 5 s covers a busy executor"))
    move_margin_s: float = Field(default=10.0, gt=0, description=(
        "added to a move's requested duration, s; covers the controller's velocity limits and settling"))
    move_default_s: float = Field(default=30.0, gt=0, description=(
        "a move without a duration (the controller's default speed), s; a full-range move of the slowest joint "
        "takes well under it"))
    grasp_s: float = Field(default=30.0, gt=0, description=(
        "a grasp, s; by object id it reaches, closes and lifts, three moves in a row"))
    detect_s: float = Field(default=15.0, gt=0, description=(
        "one detect call on an uploaded image, s; the detector on CPU, on an image of the largest upload size"))
    transcribe_s: float = Field(default=120.0, gt=0, description=(
        "one transcription, s; Whisper on CPU runs about real time on minutes of audio in the largest upload"))
    speak_s: float = Field(default=120.0, gt=0, description=(
        "one synthesis, s; up to 10,000 characters (the API's limit) spoken on CPU"))
    command_s: float = Field(default=120.0, gt=0, description=(
        "one command, s; routing, a generation and the robot actions it carries out"))
    generate_s: float = Field(default=300.0, gt=0, description=(
        "one whole generation, s; up to 4096 tokens on CPU, an adapter loaded first"))
    token_gap_s: float = Field(default=60.0, gt=0, description=(
        "the longest silence between two streamed tokens, s; the first comes after loading an adapter and the "
        "prompt's prefill"))
    route_s: float = Field(default=10.0, gt=0, description=(
        "one routing decision, s; embedding one prompt"))
    registry_s: float = Field(default=30.0, gt=0, description=(
        "a registry call (list, get, create, update, delete, a job's status), s; a delete may wait for its "
        "expert to unload"))
    dataset_s: float = Field(default=120.0, gt=0, description=(
        "registering an uploaded dataset, s; validating and copying an upload of the largest size"))
    job_start_s: float = Field(default=60.0, gt=0, description=(
        "a training goal's first progress, s; the experts node validates the dataset again and loads the model"))
    stop_s: float = Field(default=600.0, gt=0, description=(
        "a stopped training job to end, s; it ends at its next step, after saving a checkpoint"))
    retrain_s: float = Field(default=600.0, gt=0, description=(
        "retraining the router, s; it embeds every labelled prompt, then trains the gate"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


class UnsafeBind(ValueError):
    pass


def check_bind(host: str, keys_configured: bool) -> None:
    """Refuse to listen beyond loopback while no API key or user exists: the API moves a robot."""
    if not is_loopback(host) and not keys_configured:
        raise UnsafeBind(
            f"refusing to listen on {host}: no API key or user is configured, so the bridge binds to "
            f"loopback only. Create one with `embodied keys create --name NAME` or "
            f"`embodied users create NAME --role ROLE` first.")
