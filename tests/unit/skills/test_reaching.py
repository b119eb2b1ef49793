"""The reaching environment: Gymnasium's checker, seeded episodes, commands inside the limits,
a task a scripted controller solves, and perturbations that do what they say."""

import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from embodied_ai.control.reach import ArmReach
from embodied_ai.errors import InvalidRequest, SafetyViolation
from embodied_ai.skills import REACH_ENV_ID, ReachEnv


@pytest.fixture(scope="module")
def env(description, safety):
    return ReachEnv(description=description, safety=safety)


def scripted_action(env, obs, goal):
    """Proportional control toward the analytical reach solution (the joints' order is the action's)."""
    error = np.array([goal[j] for j in env.joints]) - obs[:3]
    return np.clip(error / env.config.action_scale_rad, -1.0, 1.0).astype(np.float32)


def test_gymnasiums_checker_passes_without_a_warning():
    env = gym.make(REACH_ENV_ID)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    assert env.observation_space.shape == (15,) and env.action_space.shape == (3,)


def test_the_same_seed_gives_the_same_episode(description, safety):
    first, second = (ReachEnv(description=description, safety=safety) for _ in range(2))
    actions = np.random.default_rng(5).uniform(-1, 1, (25, 3)).astype(np.float32)

    def episode(env, seed):
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for action in actions:
            obs, reward, *_ = env.step(action)
            trace += [obs, np.array([reward])]
        return np.concatenate(trace)

    assert np.array_equal(episode(first, 11), episode(second, 11))
    assert not np.array_equal(episode(first, 11), episode(second, 12))


def test_every_command_stays_inside_the_limits_whatever_the_action(env, description):
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    upward = [np.full(3, np.inf), np.array([1e30, 1e9, 1e30])] * 15          # long enough to reach every limit
    wild = [rng.choice([-np.inf, -1e6, 1e6, np.inf], 3) for _ in range(15)]
    for k, action in enumerate(upward + wild):
        _, reward, *_, info = env.step(action)   # the setpoint gate would raise on any bad setpoint
        assert np.isfinite(reward)
        for joint, value in {**info["targets"], **env.servos.robot.goals}.items():
            assert description.limits[joint].contains(value), (joint, value)
        if k == len(upward) - 1:   # pressed against the upper limits, not past them
            for joint in env.joints:
                position = env.servos.snapshot.joints[joint].position
                assert position == pytest.approx(description.limits[joint].upper, abs=0.01), joint


def test_a_non_finite_action_is_refused_as_the_controller_refuses_it(env):
    env.reset(seed=0)
    before = env.servos.targets
    with pytest.raises(SafetyViolation, match="not a finite number"):
        env.step(np.array([np.nan, 0.0, 0.0]))
    assert env.servos.targets == before


def test_a_scripted_controller_solves_the_task(env):
    reach, successes = ArmReach(env.description), 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        goal = reach.solve("r", env.target, {})
        for _ in range(env.task_spec.max_episode_steps):
            action = scripted_action(env, obs, goal)
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        if terminated:
            successes += 1
            assert info["is_success"] and info["distance_m"] <= env.task_spec.success.tolerance
            expected = -info["distance_m"] - env.config.action_penalty * float(np.sum(action.astype(float) ** 2))
            assert reward == pytest.approx(expected + env.config.success_bonus)
        else:
            assert truncated and env.steps == env.task_spec.max_episode_steps
    assert successes >= 18


def test_an_idle_policy_does_not_succeed(env):
    env.reset(seed=1)
    for _ in range(env.task_spec.max_episode_steps):
        _, reward, terminated, truncated, info = env.step(np.zeros(3, np.float32))
        assert not terminated
    assert truncated and not info["is_success"] and reward == pytest.approx(-info["distance_m"])


def perturbed(description, safety, **perturbation):
    return ReachEnv({"perturbation": perturbation}, description=description, safety=safety)


def test_a_target_offset_moves_every_target(description, safety, env):
    offset = np.array([0.03, -0.02, 0.05])
    moved = perturbed(description, safety, target_offset_m=tuple(offset))
    nominal_obs, _ = env.reset(seed=4)
    moved_obs, _ = moved.reset(seed=4)
    assert np.allclose(moved.target - env.target, offset)
    assert np.allclose(moved_obs[9:12] - nominal_obs[9:12], offset, atol=1e-6)
    assert np.array_equal(moved_obs[:9], nominal_obs[:9])   # the arm starts the same


def test_slower_servos_lag_further_behind_the_same_commands(description, safety):
    progress = []
    for scale in (1.0, 4.0):
        env = perturbed(description, safety, servo_tau_scale=scale)
        start, _ = env.reset(seed=2)
        obs, *_ = env.step(np.array([-1.0, -1.0, 1.0], np.float32))
        progress.append(np.abs(obs[:3] - start[:3]).sum())
    assert progress[1] < 0.7 * progress[0]


def test_sensor_noise_changes_what_is_seen_not_what_is(description, safety, env):
    noisy = perturbed(description, safety, joint_noise_rad=0.02, target_noise_m=0.01)
    deviations = []
    for seed in range(10):
        clean_obs, clean_info = env.reset(seed=seed)
        noisy_obs, noisy_info = noisy.reset(seed=seed)
        assert noisy_info["distance_m"] == clean_info["distance_m"]
        deviations.append(noisy_obs - clean_obs)
    deviations = np.array(deviations)
    assert 0.01 < deviations[:, :3].std() < 0.04          # joint positions: 0.02 rad
    assert np.all(deviations[:, 3:6] == 0)                 # velocities are not noised
    assert 0.004 < deviations[:, 9:12].std() < 0.02        # target: 0.01 m


def test_discrete_actions_move_each_joint_down_still_or_up_and_a_bad_one_is_refused(description, safety):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(REACH_ENV_ID, config={"actions": "discrete"}).unwrapped)
    env = ReachEnv({"actions": "discrete"}, description=description, safety=safety)
    spec, scale = env.task_spec, env.config.action_scale_rad
    assert env.action_space == gym.spaces.Discrete(27) and spec.action.scale_rad == scale
    assert {choice.vector for choice in spec.action.choices} == set(itertools.product((-1.0, 0.0, 1.0), repeat=3))
    env.reset(seed=4)
    measured = dict(env.observed_positions)
    for index, choice in enumerate(spec.action.choices):
        targets = spec.command(index, measured)
        for joint, step in zip(env.joints, choice.vector):
            limits = description.limits[joint]
            assert targets[joint] == pytest.approx(min(max(measured[joint] + step * scale, limits.lower),
                                                       limits.upper))
    up = next(k for k, choice in enumerate(spec.action.choices) if choice.vector == (1.0, 1.0, 1.0))
    _, reward, *_ = env.step(up)
    assert reward < 0 and np.isfinite(reward)
    for bad in (27, -1, 1.0, "up"):
        with pytest.raises(InvalidRequest, match="is not one of 0..26"):
            env.step(bad)
