"""DQN and PPO from stable-baselines3, trained episode by episode (imported only when one trains).

sb3 counts environment steps; a run here counts episodes: a callback records each step's reward
and success, closes an episode when the vectorised environment reports it done (``dones``), and
stops learning at the requested episode count or as soon as ``should_stop()`` (a cancel). The
step budget given to sb3, ``(episodes left + 1) * max_episode_steps``, is never what ends a run
(an episode is at most that long); it paces DQN's exploration schedule over the run.

A box observation reaches the network scaled to [-1, 1] by its bounds from the task's contract
(``ScaledObservation``), a fixed normalisation the exported graph repeats; sb3 one-hot encodes a
discrete observation itself. The policy used and exported is the deterministic one: DQN's argmax
Q, PPO's mean action clipped to the action space (or its most likely discrete action).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from embodied_ai.exports.formats import ExportFailed
from embodied_ai.skills.episodes import EpisodeRecord, EpisodeTracker
from embodied_ai.skills.policy_export import (
    Activation,
    DenseLayer,
    ObservationScaling,
    PolicyNetwork,
    write_atomically,
)

ALGORITHMS: dict[str, type[DQN] | type[PPO]] = {"dqn": DQN, "ppo": PPO}
MODEL_SUFFIX = ".zip"
REPLAY_SUFFIX = ".replay.pkl"
ACTIVATIONS: dict[type[nn.Module], Activation] = {nn.Tanh: "tanh", nn.ReLU: "relu"}


class ScaledObservation(gym.ObservationWrapper[np.ndarray, Any, np.ndarray]):
    """A box observation scaled to [-1, 1] by its bounds (``ObservationScaling``)."""

    def __init__(self, env: gym.Env[np.ndarray, Any]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError("only a box observation is scaled")
        self.scaling = ObservationScaling.from_bounds(space.low, space.high)
        self.observation_space = gym.spaces.Box(self.scaling.apply(space.low), self.scaling.apply(space.high),
                                                dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self.scaling.apply(observation)


def _arguments(model_type: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    p, hidden = parameters, list(parameters["hidden_units"])
    if model_type == "dqn":
        return {"learning_rate": p["learning_rate"], "gamma": p["discount_factor"], "batch_size": p["batch_size"],
                "buffer_size": p["buffer_size"], "learning_starts": p["learning_starts"], "train_freq": p["train_freq"],
                "target_update_interval": p["target_update_interval"], "exploration_initial_eps": p["exploration_rate"],
                "exploration_final_eps": p["exploration_final_rate"],
                "exploration_fraction": p["exploration_fraction"], "policy_kwargs": {"net_arch": hidden}}
    return {"learning_rate": p["learning_rate"], "gamma": p["discount_factor"], "batch_size": p["batch_size"],
            "n_epochs": p["epochs"], "n_steps": p["n_steps"], "clip_range": p["clip_range"], "ent_coef": p["ent_coef"],
            "gae_lambda": p["gae_lambda"], "policy_kwargs": {"net_arch": {"pi": hidden, "vf": hidden}}}


class _EpisodeCallback(BaseCallback):
    def __init__(self, tracker: EpisodeTracker, total_episodes: int, on_episode: Callable[[EpisodeRecord], None],
                 should_stop: Callable[[], bool]) -> None:
        super().__init__()
        self.tracker, self.total_episodes = tracker, total_episodes
        self.on_episode, self.should_stop = on_episode, should_stop

    def _on_step(self) -> bool:
        if self.should_stop():
            return False
        info = self.locals["infos"][0]
        self.tracker.step(float(self.locals["rewards"][0]), bool(info.get("is_success", False)))
        if self.locals["dones"][0]:
            self.on_episode(self.tracker.finish())
            return self.tracker.episode < self.total_episodes
        return True


class Sb3Learner:
    """A DQN or PPO model learning on ``env``, new or from a checkpoint's files."""

    def __init__(self, model_type: str, env: gym.Env[Any, Any], parameters: Mapping[str, Any], seed: int,
                 checkpoint: Path | None = None) -> None:
        self.model_type = model_type
        self.seed = seed
        self.task = env.unwrapped.task_spec.task   # type: ignore[attr-defined]
        self.max_episode_steps = env.unwrapped.task_spec.max_episode_steps   # type: ignore[attr-defined]
        self.scaling: ObservationScaling | None = None
        if isinstance(env.observation_space, gym.spaces.Box):
            env = ScaledObservation(env)
            self.scaling = env.scaling
        vectorised = DummyVecEnv([lambda: env])
        algorithm = ALGORITHMS[model_type]
        self.model: BaseAlgorithm
        if checkpoint is None:
            self.model = algorithm("MlpPolicy", vectorised, seed=seed, device="cpu", verbose=0,
                                   **_arguments(model_type, parameters))
        else:
            self.model = algorithm.load(checkpoint, env=vectorised, device="cpu")
            replay = checkpoint.with_name(checkpoint.name.removesuffix(MODEL_SUFFIX) + REPLAY_SUFFIX)
            if isinstance(self.model, DQN) and replay.is_file():
                self.model.load_replay_buffer(replay)

    def learn(self, start_episode: int, total_episodes: int, on_episode: Callable[[EpisodeRecord], None],
              should_stop: Callable[[], bool]) -> int:
        """Episodes ``start_episode + 1 .. total_episodes`` (see the module text); the episodes finished."""
        if start_episode >= total_episodes:
            return start_episode
        tracker = EpisodeTracker(self.task, episode=start_episode)
        fresh = start_episode == 0 and self.model.num_timesteps == 0
        if not fresh:
            self.model.set_random_seed(self.seed + start_episode)   # the resumed episodes' own seeds
        budget = (total_episodes - start_episode + 1) * self.max_episode_steps
        self.model.learn(total_timesteps=budget, callback=_EpisodeCallback(tracker, total_episodes, on_episode,
                                                                           should_stop),
                         reset_num_timesteps=fresh, progress_bar=False)
        return tracker.episode

    def save(self, folder: Path, stem: str) -> list[str]:
        """The model (and DQN's replay buffer) as ``<stem>.zip`` (``<stem>.replay.pkl``) in ``folder``."""
        buffer = io.BytesIO()
        self.model.save(buffer)
        names = [stem + MODEL_SUFFIX]
        write_atomically(folder / names[0], buffer.getvalue())
        if isinstance(self.model, DQN):
            replay = io.BytesIO()
            self.model.save_replay_buffer(replay)
            names.append(stem + REPLAY_SUFFIX)
            write_atomically(folder / names[1], replay.getvalue())
        return names

    @staticmethod
    def checkpoint_file(folder: Path, files: list[str]) -> Path:
        return folder / files[0]

    def act(self, observations: np.ndarray) -> np.ndarray:
        """The deterministic policy's actions for a batch of raw observations."""
        batch = np.asarray(observations)
        if self.scaling is not None:
            batch = self.scaling.apply(batch)
        actions, _ = self.model.predict(batch, deterministic=True)
        return np.asarray(actions)

    def network(self) -> PolicyNetwork:
        """The deterministic policy as arrays (ExportFailed for a network this export does not know)."""
        policy: Any = self.model.policy
        if isinstance(self.model, DQN):
            extractor, modules = self.model.q_net.features_extractor, list(self.model.q_net.q_net)
        else:
            if policy.use_sde or policy.squash_output:
                raise ExportFailed("a PPO policy with state-dependent exploration or squashed output is not exported")
            extractor, modules = policy.pi_features_extractor, [*policy.mlp_extractor.policy_net, policy.action_net]
        if not isinstance(extractor, FlattenExtractor):
            raise ExportFailed(f"the features extractor {type(extractor).__name__} is not exported")
        observation_space, action_space = self.model.observation_space, self.model.action_space
        discrete_in = isinstance(observation_space, gym.spaces.Discrete)
        if isinstance(action_space, gym.spaces.Box):
            low, high = float(np.min(action_space.low)), float(np.max(action_space.high))
        else:
            low, high = -1.0, 1.0
        return PolicyNetwork(
            observation_kind="discrete" if discrete_in else "box",
            observation_size=int(observation_space.n) if isinstance(observation_space, gym.spaces.Discrete)
            else int(np.prod(observation_space.shape or (1,))),
            action_kind="box" if isinstance(action_space, gym.spaces.Box) else "discrete",
            layers=_dense_layers(modules), scaling=self.scaling, action_low=low, action_high=high)


def _dense_layers(modules: list[nn.Module]) -> tuple[DenseLayer, ...]:
    """Linear layers, each with the activation that follows it."""
    layers: list[DenseLayer] = []
    for module in modules:
        if isinstance(module, nn.Linear):
            layers.append(DenseLayer(weight=module.weight.detach().cpu().numpy().astype(np.float32),
                                     bias=np.zeros(module.out_features, np.float32) if module.bias is None
                                     else module.bias.detach().cpu().numpy().astype(np.float32), activation="none"))
        elif type(module) in ACTIVATIONS and layers and layers[-1].activation == "none":
            last = layers[-1]
            layers[-1] = DenseLayer(weight=last.weight, bias=last.bias, activation=ACTIVATIONS[type(module)])
        else:
            raise ExportFailed(f"the policy's {type(module).__name__} layer is not exported")
    return tuple(layers)

