"""Skills learned in simulation: Gymnasium environments on the simulated robot (no ROS).

``ReachEnv`` (continuous: the right arm's fingers to a point above the table) and
``HeadTrackEnv`` (discrete, for tabular learning: the head pan follows a target). Each task's
observation, action, limits, control rate, reward and success are declared once, in
``spec.TaskSpec``, which a policy export serialises (``env.contract()``). Importing this package
registers the environments with Gymnasium (``gymnasium.make("embodied/Reach-v0")``).
"""

from __future__ import annotations

import gymnasium as gym

from embodied_ai.skills.config import HeadTrackConfig, Perturbation, ReachConfig
from embodied_ai.skills.head_tracking import HeadTrackEnv
from embodied_ai.skills.reaching import ReachEnv
from embodied_ai.skills.spec import HEAD_TRACK_ENV_ID, REACH_ENV_ID, TaskSpec

ENTRY_POINTS = {
    REACH_ENV_ID: "embodied_ai.skills.reaching:ReachEnv",
    HEAD_TRACK_ENV_ID: "embodied_ai.skills.head_tracking:HeadTrackEnv",
}


def register_envs() -> None:
    """Register the environments with Gymnasium; calling it again changes nothing.

    No ``max_episode_steps`` here: each environment truncates at its own config's value, so a
    config that changes it is obeyed with or without ``gymnasium.make``.
    """
    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


register_envs()

__all__ = ["HEAD_TRACK_ENV_ID", "REACH_ENV_ID", "HeadTrackConfig", "HeadTrackEnv", "Perturbation", "ReachConfig",
           "ReachEnv", "TaskSpec", "register_envs"]
