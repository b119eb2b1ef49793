"""Skills learned in simulation: Gymnasium environments on the simulated robot (no ROS), and
their policies trained, exported and measured as jobs.

``ReachEnv`` (continuous: the right arm's fingers to a point above the table) and
``HeadTrackEnv`` (discrete, for tabular learning: the head pan follows a target). Each task's
observation, action, limits, control rate, reward and success are declared once, in
``spec.TaskSpec``, which a policy export serialises (``env.contract()``).

The names below are loaded on first use, and that first use registers the environments with
Gymnasium (``gymnasium.make("embodied/Reach-v0")``; ``register_envs()`` does it explicitly), so
that the jobs node, which only names the skills' job kinds (``embodied_ai.skills.jobs``), does not
load the simulator and Gymnasium until a skill's job runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embodied_ai.skills.config import HeadTrackConfig, Perturbation, ReachConfig
    from embodied_ai.skills.head_tracking import HeadTrackEnv
    from embodied_ai.skills.reaching import ReachEnv
    from embodied_ai.skills.spec import HEAD_TRACK_ENV_ID, REACH_ENV_ID, TaskSpec

ENTRY_POINTS = {
    "embodied/Reach-v0": "embodied_ai.skills.reaching:ReachEnv",
    "embodied/HeadTrack-v0": "embodied_ai.skills.head_tracking:HeadTrackEnv",
}
_WHERE = {
    **dict.fromkeys(("HeadTrackConfig", "Perturbation", "ReachConfig"), "embodied_ai.skills.config"),
    **dict.fromkeys(("HEAD_TRACK_ENV_ID", "REACH_ENV_ID", "TaskSpec"), "embodied_ai.skills.spec"),
    "HeadTrackEnv": "embodied_ai.skills.head_tracking", "ReachEnv": "embodied_ai.skills.reaching",
}


def register_envs() -> None:
    """Register the environments with Gymnasium; calling it again changes nothing.

    No ``max_episode_steps`` here: each environment truncates at its own config's value, so a
    config that changes it is obeyed with or without ``gymnasium.make``.
    """
    import gymnasium as gym

    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    register_envs()
    return getattr(importlib.import_module(_WHERE[name]), name)


__all__ = ["HEAD_TRACK_ENV_ID", "REACH_ENV_ID", "HeadTrackConfig", "HeadTrackEnv", "Perturbation", "ReachConfig",
           "ReachEnv", "TaskSpec", "register_envs"]
