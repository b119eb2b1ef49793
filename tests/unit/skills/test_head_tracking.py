"""The head tracking environment: Gymnasium's checker, a small discrete task a Q-table can
hold, seeded episodes, commands on the grid inside the limits, and perturbations."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from embodied_ai.errors import InvalidRequest
from embodied_ai.skills import HEAD_TRACK_ENV_ID, HeadTrackEnv, register_envs

LEFT, STAY, RIGHT = 2, 1, 0


@pytest.fixture(scope="module")
def env(description, safety):
    return HeadTrackEnv(description=description, safety=safety)


def greedy(obs, bins):
    """Pan toward the target's bin: what a learned Q-table should do."""
    pan_bin, target_bin = divmod(int(obs), bins)
    return LEFT if target_bin > pan_bin else RIGHT if target_bin < pan_bin else STAY


def centred_fraction(env, policy, seed):
    obs, _ = env.reset(seed=seed)
    centred = []
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        assert not terminated and reward == float(info["is_success"])
        centred.append(info["is_success"])
    return float(np.mean(centred))


def test_gymnasiums_checker_passes_without_a_warning():
    register_envs()   # again: changes nothing
    env = gym.make(HEAD_TRACK_ENV_ID)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_one_action_moves_the_head_one_grid_step_within_the_period(env):
    obs, _ = env.reset(seed=7)
    pan_bin = obs // env.grid.bins
    assert pan_bin < env.grid.bins - 1   # room to move left
    obs, *_ = env.step(LEFT)
    assert obs // env.grid.bins == pan_bin + 1
    pan = env.servos.snapshot.joints["head_pan"].position
    assert pan == pytest.approx(env.grid.angle(pan_bin + 1), abs=math.radians(0.5))   # settled, not on its way


def test_the_grid_ends_hold_the_head_inside_its_limits(env, description):
    env.reset(seed=0)
    limits = description.limits["head_pan"]
    for action in [RIGHT] * 22 + [LEFT] * 22:
        obs, *_, info = env.step(action)
        assert limits.contains(info["targets"]["head_pan"])
    assert obs // env.grid.bins == env.grid.bins - 1
    assert env.servos.snapshot.joints["head_pan"].position <= limits.upper


@pytest.mark.parametrize("action", [3, -1, "left"])
def test_an_action_outside_the_space_is_refused(env, action):
    env.reset(seed=0)
    with pytest.raises(InvalidRequest, match="is not one of 0..2"):
        env.step(action)


def test_the_same_seed_gives_the_same_episode(description, safety):
    first, second = (HeadTrackEnv(description=description, safety=safety) for _ in range(2))
    actions = np.random.default_rng(1).integers(0, 3, 30)

    def episode(env, seed):
        obs, _ = env.reset(seed=seed)
        return [obs] + [env.step(int(a))[:2] for a in actions]

    assert episode(first, 21) == episode(second, 21)
    assert episode(first, 21) != episode(second, 22)


def test_tracking_the_target_bin_keeps_the_head_centred(env):
    rng = np.random.default_rng(0)
    tracked = np.mean([centred_fraction(env, lambda obs: greedy(obs, env.grid.bins), seed) for seed in range(3)])
    wandering = np.mean([centred_fraction(env, lambda obs: int(rng.integers(3)), seed) for seed in range(3)])
    assert tracked > 0.75 and wandering < 0.3, (tracked, wandering)


def test_a_target_offset_moves_the_target_bearing(description, safety, env):
    moved = HeadTrackEnv({"perturbation": {"target_offset_m": (0.0, 0.2, 0.0)}}, description=description,
                         safety=safety)
    bins = env.grid.bins
    nominal_obs, _ = env.reset(seed=5)
    moved_obs, _ = moved.reset(seed=5)
    assert moved_obs // bins == nominal_obs // bins        # the head starts the same
    assert moved_obs % bins > nominal_obs % bins           # the target is seen further left


def test_slow_servos_do_not_settle_within_the_period(description, safety):
    slow = HeadTrackEnv({"perturbation": {"servo_tau_scale": 8.0}}, description=description, safety=safety)
    obs, _ = slow.reset(seed=9)
    pan_bin = obs // slow.grid.bins
    direction = LEFT if pan_bin < slow.grid.bins // 2 else RIGHT
    slow.step(direction)
    pan = slow.servos.snapshot.joints["head_pan"].position
    goal = slow.grid.angle(pan_bin + (1 if direction == LEFT else -1))
    assert abs(pan - goal) > math.radians(2)


def test_sensor_noise_blurs_the_bins_seen(description, safety):
    noisy = HeadTrackEnv({"perturbation": {"joint_noise_rad": 0.1, "target_noise_m": 0.05}},
                         description=description, safety=safety)
    clean = HeadTrackEnv(description=description, safety=safety)
    seen = [(noisy.reset(seed=s)[0], clean.reset(seed=s)[0]) for s in range(20)]
    assert sum(a != b for a, b in seen) >= 5
    assert all(abs(a // 19 - b // 19) <= 2 for a, b in seen)
