"""Settings of the REST bridge (the bridge node fills them from its ROS parameters)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from embodied_ai.bridge.keys import validate_rate_limit

LOOPBACK = "127.0.0.1"


class BridgeSettings(BaseModel):
    host: str = LOOPBACK
    port: int = Field(8000, ge=0, le=65535)  # 0 = any free port (tests)
    state_dir: Path
    # Requests without a key are allowed only while no key exists (and then only on
    # loopback); they share this limit. Keys carry their own limit.
    anonymous_rate_limit: str = "6000/hour"
    max_upload_bytes: int = Field(25 * 1024 * 1024, gt=0)
    cors_origins: list[str] = []  # empty = CORS off
    dashboard: bool = True
    cameras: list[str] = ["head_camera", "wrist_camera"]
    hardware_event_hz: float = Field(5.0, gt=0, le=50)
    camera_event_hz: float = Field(5.0, gt=0, le=30)

    @field_validator("anonymous_rate_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        return validate_rate_limit(value)


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
    """Refuse to listen beyond loopback while no API key exists: the API moves a robot."""
    if not is_loopback(host) and not keys_configured:
        raise UnsafeBind(
            f"refusing to listen on {host}: no API key is configured, so the bridge binds to "
            f"loopback only. Create one with `embodied keys create --name NAME` first.")
