"""The ROS environment every launched node gets (platform.md's DDS settings by default)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from embodied_ai.launcher.config import DdsConfig

# Set by the ROS wheels' bootstrapper in *this* interpreter; a child must redo its own
# bootstrap (platform.md), so the guard is not inherited.
BOOTSTRAP_GUARD = "_ROS_WHEELS_BOOTSTRAP_COMPLETE"


def ros_environment(dds: DdsConfig, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return ``base`` (default os.environ) with the DDS settings filled in where unset."""
    env = dict(os.environ if base is None else base)
    env.pop(BOOTSTRAP_GUARD, None)
    env.setdefault("ROS_DOMAIN_ID", str(dds.domain_id))
    if dds.localhost_only:
        env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        # Humble predates ROS_AUTOMATIC_DISCOVERY_RANGE; later distributions deprecate this one.
        if env.get("ROS_DISTRO") in ("foxy", "galactic", "humble"):
            env.setdefault("ROS_LOCALHOST_ONLY", "1")
    if dds.fastdds_profile:
        env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", dds.fastdds_profile)
        env.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", env["FASTDDS_DEFAULT_PROFILES_FILE"])
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
