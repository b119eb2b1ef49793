"""Tabular Q-learning (numpy) for a task with a discrete observation and action (head tracking).

    Q[s, a] += learning_rate * (reward + discount_factor * max_a' Q[s', a'] * (not terminated) - Q[s, a])

Exploration is epsilon-greedy (ties broken at random); epsilon decays linearly from
``exploration_rate`` to ``exploration_final_rate`` over the first ``exploration_fraction`` of the
episodes. Episode ``k`` (from 0) resets the environment with seed ``seed + k`` and draws its
exploration from a generator seeded ``(seed, k)``: a run resumed from a checkpoint replays the
episodes after it on the seeds the uninterrupted run would have used.

The table is float32 (each update computed in float64): the exported graph holds the very values
the learned policy ``argmax_a Q[s, a]`` compares, so both pick the same action, the first of
equal values (as ONNX's ArgMax).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from embodied_ai.skills.episodes import EpisodeRecord, EpisodeTracker
from embodied_ai.skills.policy_export import DenseLayer, PolicyNetwork, write_atomically

TABLE_SUFFIX = ".npy"


class QLearner:
    """A Q-table learning on ``env`` (Discrete observation and action spaces)."""

    model_type = "q_learning"

    def __init__(self, env: gym.Env[Any, Any], parameters: Mapping[str, Any], seed: int,
                 checkpoint: Path | None = None) -> None:
        if not isinstance(env.observation_space, gym.spaces.Discrete) or \
                not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError("q_learning needs Discrete observation and action spaces")
        self.env = env
        self.parameters = dict(parameters)
        self.seed = seed
        shape = (int(env.observation_space.n), int(env.action_space.n))
        self.q_table = np.load(checkpoint) if checkpoint is not None else np.zeros(shape, np.float32)
        if self.q_table.shape != shape or self.q_table.dtype != np.float32:
            raise ValueError(f"checkpoint {checkpoint} holds a {self.q_table.dtype} {self.q_table.shape} table, "
                             f"not float32 {shape}")
        self.task = env.unwrapped.task_spec.task   # type: ignore[attr-defined]

    def epsilon(self, episode: int, total_episodes: int) -> float:
        """Exploration for episode ``episode`` (from 0) of ``total_episodes``."""
        start, final = self.parameters["exploration_rate"], self.parameters["exploration_final_rate"]
        decay = max(1.0, self.parameters["exploration_fraction"] * total_episodes)
        return float(start + (final - start) * min(1.0, episode / decay))

    def learn(self, start_episode: int, total_episodes: int, on_episode: Callable[[EpisodeRecord], None],
              should_stop: Callable[[], bool]) -> int:
        """Episodes ``start_episode + 1 .. total_episodes``, ``on_episode`` after each; stops early
        (mid-episode, which is then dropped) when ``should_stop()``. Returns the episodes finished."""
        rate, gamma = self.parameters["learning_rate"], self.parameters["discount_factor"]
        tracker = EpisodeTracker(self.task, episode=start_episode)
        for episode in range(start_episode, total_episodes):
            rng = np.random.default_rng([self.seed, episode])
            epsilon = self.epsilon(episode, total_episodes)
            state, _ = self.env.reset(seed=self.seed + episode)
            done = False
            while not done:
                if should_stop():
                    return episode
                row = self.q_table[state]
                if rng.random() < epsilon:
                    action = int(rng.integers(len(row)))
                else:
                    action = int(rng.choice(np.flatnonzero(row == row.max())))
                following, reward, terminated, truncated, info = self.env.step(action)
                future = 0.0 if terminated else gamma * float(self.q_table[following].max())
                value = float(row[action])
                row[action] = value + rate * (float(reward) + future - value)
                tracker.step(float(reward), bool(info.get("is_success", False)))
                state, done = following, terminated or truncated
            on_episode(tracker.finish())
        return total_episodes

    def save(self, folder: Path, stem: str) -> list[str]:
        """The table as ``<stem>.npy`` in ``folder``; the file names written."""
        name, buffer = stem + TABLE_SUFFIX, io.BytesIO()
        np.save(buffer, self.q_table)
        write_atomically(folder / name, buffer.getvalue())
        return [name]

    @staticmethod
    def checkpoint_file(folder: Path, files: list[str]) -> Path:
        return folder / files[0]

    def act(self, observations: np.ndarray) -> np.ndarray:
        """The learned policy's actions for a batch of observation indices."""
        return np.argmax(self.q_table[np.asarray(observations, dtype=np.int64)], axis=1).astype(np.int64)

    def network(self) -> PolicyNetwork:
        """The table as a one-layer network on a discrete input: row ``s`` of ``W^T`` is ``Q[s]``."""
        table = self.q_table
        return PolicyNetwork(observation_kind="discrete", observation_size=table.shape[0], action_kind="discrete",
                             layers=(DenseLayer(weight=np.ascontiguousarray(table.T),
                                                bias=np.zeros(table.shape[1], np.float32), activation="none"),))
