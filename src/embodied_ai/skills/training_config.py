"""A policy training request (seed 001's training task): the model type, the environment, the
learning parameters with their ranges, the episode count, and the W&B names (recorded only: W&B
is not installed here).

``RlTrainingConfig.parse`` refuses a bad request with every problem listed, including those
between fields (a tabular learner on the continuous reach task, a PPO minibatch larger than its
rollout, the environment's own config). Parameters a model type does not use are accepted (seed
001 sends ``batch_size`` and ``epochs`` to ``q_learning``) and listed by ``unused_parameters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embodied_ai.errors import InvalidRequest, validation_problems
from embodied_ai.model_registry.store import name_problems
from embodied_ai.skills.config import HeadTrackConfig, ReachConfig
from embodied_ai.skills.spec import HEAD_TRACK_ENV_ID, REACH_ENV_ID

ModelType = Literal["q_learning", "dqn", "ppo"]
MODEL_TYPES: tuple[str, ...] = ("q_learning", "dqn", "ppo")
ENV_CONFIGS: dict[str, type[ReachConfig] | type[HeadTrackConfig]] = {
    REACH_ENV_ID: ReachConfig, HEAD_TRACK_ENV_ID: HeadTrackConfig}
DEFAULT_ENV = {"q_learning": HEAD_TRACK_ENV_ID, "dqn": REACH_ENV_ID, "ppo": REACH_ENV_ID}
# What each model type needs of the environment: q_learning a discrete observation and action
# (a table), dqn discrete actions (one Q-value per action: reaching with ``actions: discrete``,
# which is its default there); ppo takes either.
SUPPORTED_ENVS = {"q_learning": (HEAD_TRACK_ENV_ID,), "dqn": (REACH_ENV_ID, HEAD_TRACK_ENV_ID),
                  "ppo": (REACH_ENV_ID, HEAD_TRACK_ENV_ID)}
DISCRETE_ACTIONS = {"dqn"}   # model types that need discrete actions
MAX_EPISODES = 100_000
MAX_SEED = 2**31 - 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RlParameters(_Strict):
    """Learning parameters; None takes the model type's default (``DEFAULTS``)."""

    learning_rate: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False,
                                        description="q_learning: the table's step size; dqn, ppo: Adam's")
    discount_factor: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False, description="gamma")
    batch_size: int | None = Field(default=None, ge=1, le=4096, description="dqn: replay minibatch; ppo: minibatch")
    epochs: int | None = Field(default=None, ge=1, le=100, description="ppo: passes over each rollout")
    n_steps: int | None = Field(default=None, ge=2, le=8192, description="ppo: steps per rollout")
    buffer_size: int | None = Field(default=None, ge=10, le=1_000_000, description="dqn: replay buffer, steps")
    learning_starts: int | None = Field(default=None, ge=0, le=1_000_000,
                                        description="dqn: steps collected before learning starts")
    train_freq: int | None = Field(default=None, ge=1, le=10_000, description="dqn: steps between updates")
    target_update_interval: int | None = Field(default=None, ge=1, le=1_000_000,
                                               description="dqn: steps between target network updates")
    exploration_rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False,
                                           description="q_learning, dqn: epsilon at the start")
    exploration_final_rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False,
                                                 description="q_learning, dqn: epsilon after the decay")
    exploration_fraction: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False, description=(
        "q_learning, dqn: share of the training over which epsilon decays linearly"))
    hidden_units: list[Annotated[int, Field(ge=1, le=1024)]] | None = Field(default=None, min_length=1, max_length=4,
                                                 description="dqn, ppo: units of each hidden layer")
    clip_range: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False, description="ppo")
    ent_coef: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False, description="ppo: entropy bonus")
    gae_lambda: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False, description="ppo")


DEFAULTS: dict[str, dict[str, Any]] = {
    "q_learning": {"learning_rate": 0.1, "discount_factor": 0.9, "exploration_rate": 1.0,
                   "exploration_final_rate": 0.05, "exploration_fraction": 0.5},
    "dqn": {"learning_rate": 1e-3, "discount_factor": 0.9, "batch_size": 32, "buffer_size": 10_000,
            "learning_starts": 100, "train_freq": 4, "target_update_interval": 250, "exploration_rate": 1.0,
            "exploration_final_rate": 0.05, "exploration_fraction": 0.3, "hidden_units": (64, 64)},
    "ppo": {"learning_rate": 3e-4, "discount_factor": 0.99, "batch_size": 64, "epochs": 10, "n_steps": 256,
            "clip_range": 0.2, "ent_coef": 0.0, "gae_lambda": 0.95, "hidden_units": (64, 64)},
}


class RlTrainingConfig(_Strict):
    """An ``rl_training`` job's request: seed 001's training task fields and ours."""

    name: str = Field(description="the policy's name in the model registry (a new version per job)")
    model_type: ModelType
    env: Literal["embodied/Reach-v0", "embodied/HeadTrack-v0"] | None = Field(
        default=None, description="None: embodied/HeadTrack-v0 for q_learning, embodied/Reach-v0 for dqn and ppo")
    parameters: RlParameters = RlParameters()
    total_episodes: int = Field(ge=1, le=MAX_EPISODES)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    checkpoint_episodes: int = Field(default=100, ge=1, le=MAX_EPISODES,
                                     description="a checkpoint every this many episodes (and on cancel)")
    env_config: dict[str, Any] = Field(default_factory=dict, description=(
        "the environment's config (ReachConfig / HeadTrackConfig fields): episode length, control rate, ..."))
    wandb_project: str | None = Field(default=None, max_length=128, description="recorded (W&B is not installed)")
    wandb_run_name: str | None = Field(default=None, max_length=128, description="recorded")
    group_id: str | None = Field(default=None, max_length=128, description="reconcile runs default to it")
    distributed: bool = Field(default=False, description=(
        "refused when true: these learners run on one worker (docs/distributed.md)"))

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> RlTrainingConfig:
        """The config, or InvalidRequest listing every problem (fields and their combinations)."""
        problems: list[str] = []
        parsed: RlTrainingConfig | None = None
        try:
            parsed = cls.model_validate(config)
        except ValidationError as exc:
            problems += validation_problems(exc, "config")
        if isinstance(config, Mapping):
            problems += _combination_problems(config)
        if problems or parsed is None:
            raise InvalidRequest("invalid rl_training job", problems)
        return parsed

    @property
    def env_id(self) -> str:
        return self.env or DEFAULT_ENV[self.model_type]

    def env_settings(self) -> ReachConfig | HeadTrackConfig:
        """The environment's config (checked by ``parse``)."""
        return ENV_CONFIGS[self.env_id].model_validate(_env_config(self.model_type, self.env_id, self.env_config))

    def resolved_parameters(self) -> dict[str, Any]:
        """The parameters the model type uses, the defaults filled in."""
        given = self.parameters.model_dump(exclude_none=True)
        return {key: given.get(key, default) for key, default in DEFAULTS[self.model_type].items()}

    def unused_parameters(self) -> list[str]:
        return sorted(set(self.parameters.model_dump(exclude_none=True)) - set(DEFAULTS[self.model_type]))

    def record(self) -> dict[str, Any]:
        """What the registry keeps as the policy's training config."""
        return {"model_type": self.model_type, "env": self.env_id, "parameters": self.resolved_parameters(),
                "total_episodes": self.total_episodes, "seed": self.seed,
                "env_config": self.env_settings().model_dump(mode="json"), "wandb_project": self.wandb_project,
                "wandb_run_name": self.wandb_run_name, "group_id": self.group_id}


NOT_DATA_PARALLEL = ("distributed: rl_training runs on one worker: q_learning (a table) and "
                     "stable-baselines3's dqn and ppo have no data-parallel form here; distributed training "
                     "is for experts' LoRA training jobs")


def _combination_problems(config: Mapping[str, Any]) -> list[str]:
    """What no single field shows: checked on the raw request, so they are listed with the fields' own."""
    if config.get("distributed") is True:
        return [NOT_DATA_PARALLEL, *_combination_problems({k: v for k, v in config.items() if k != "distributed"})]
    name = config.get("name")
    problems = name_problems(name) if isinstance(name, str) else []   # a missing or non-text one: pydantic's
    model_type, env = config.get("model_type"), config.get("env")
    env_id = env if env in ENV_CONFIGS else DEFAULT_ENV.get(model_type) if model_type in DEFAULT_ENV else None
    if model_type in SUPPORTED_ENVS and env in ENV_CONFIGS and env not in SUPPORTED_ENVS[model_type]:
        needs = "a discrete observation and action" if model_type == "q_learning" else "discrete actions"
        problems.append(f"env: {model_type} needs {needs}: {env} is continuous; use "
                        f"{' or '.join(SUPPORTED_ENVS[model_type])}")
    env_config = config.get("env_config", {})
    if env_id is not None and isinstance(env_config, Mapping):
        try:
            ENV_CONFIGS[env_id].model_validate(_env_config(model_type, env_id, env_config))
        except ValidationError as exc:
            problems += [f"env_config.{p}" for p in validation_problems(exc, "env_config")]
        if model_type in DISCRETE_ACTIONS and env_config.get("actions", "discrete") != "discrete":
            problems.append(f"env_config.actions: {model_type} needs discrete actions, not {env_config['actions']!r}")
    parameters = config.get("parameters")
    if model_type in DEFAULTS and isinstance(parameters, Mapping):
        problems += _parameter_problems(str(model_type), parameters)
    return problems


def _env_config(model_type: Any, env_id: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The environment's config as requested, with discrete reaching actions for a learner that
    needs them (unless the request says otherwise, which ``parse`` refuses)."""
    if model_type in DISCRETE_ACTIONS and env_id == REACH_ENV_ID:
        return {"actions": "discrete", **given}
    return dict(given)


def _parameter_problems(model_type: str, given: Mapping[str, Any]) -> list[str]:
    values = {**DEFAULTS[model_type], **{k: v for k, v in given.items() if v is not None}}

    def number(key: str) -> float | None:
        value = values.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    problems = []
    start, final = number("exploration_rate"), number("exploration_final_rate")
    if model_type in ("q_learning", "dqn") and start is not None and final is not None and final > start:
        problems.append(f"parameters.exploration_final_rate: {final} is above exploration_rate {start}")
    batch, rollout, buffer = number("batch_size"), number("n_steps"), number("buffer_size")
    if model_type == "ppo" and batch is not None and batch < 2:
        problems.append("parameters.batch_size: ppo normalises advantages over a minibatch: at least 2")
    if model_type == "ppo" and batch is not None and rollout is not None and batch > rollout:
        problems.append(f"parameters.batch_size: {int(batch)} is more than a rollout's n_steps {int(rollout)}")
    if model_type == "dqn" and batch is not None and buffer is not None and batch > buffer:
        problems.append(f"parameters.batch_size: {int(batch)} is more than the replay buffer_size {int(buffer)}")
    return problems
