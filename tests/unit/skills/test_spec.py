"""Each task's contract: declared once, serialisable, read back whole; bad settings are refused
with every problem listed."""

import json

import numpy as np
import pytest

from embodied_ai.control.reach import arm_joints
from embodied_ai.errors import InvalidRequest
from embodied_ai.robot.kinematics import Kinematics
from embodied_ai.skills import HeadTrackConfig, ReachConfig, TaskSpec
from embodied_ai.skills.base import control_cycles
from embodied_ai.skills.config import parse_config
from embodied_ai.skills.spec import head_track_spec, reach_spec, reach_workspace


@pytest.fixture(scope="module")
def specs(description, safety):
    return [reach_spec(description, safety, ReachConfig(perturbation={"target_offset_m": (0.01, 0, 0)})),
            head_track_spec(description, safety, HeadTrackConfig())]


def test_a_spec_serialises_to_json_and_reads_back_equal(specs):
    for spec in specs:
        text = spec.to_json()
        assert TaskSpec.from_contract(text) == spec
        assert TaskSpec.from_contract(json.loads(text)) == spec


def test_the_reach_contract_names_every_observation_and_action_in_order(specs, description):
    contract = specs[0].contract()
    names = [s["name"] for s in contract["observation"]["signals"]]
    joints = list(arm_joints("r"))
    assert names[:6] == [f"{j}_position" for j in joints] + [f"{j}_velocity" for j in joints]
    assert names[6:] == [f"{p}_{a}" for p in ("gripper", "target", "to_target") for a in "xyz"]
    assert [s["name"] for s in contract["action"]["signals"]] == joints
    assert [(j["lower_rad"], j["upper_rad"]) for j in contract["joints"]] == [
        (description.limits[j].lower, description.limits[j].upper) for j in joints]
    assert contract["control_rate_hz"] == 10.0 and contract["success"]["tolerance"] == 0.02
    assert contract["perturbation"]["target_offset_m"] == [0.01, 0, 0]


def test_the_head_contract_encodes_two_bins_in_one_index(specs):
    spec = specs[1]
    assert spec.grid is not None and spec.grid.bins == 19   # 10 degree steps over +-90 degrees
    assert spec.observation_space().n == 19 * 19 and spec.action_space().n == 3
    assert spec.observation.encoding == "index = pan_bin * 19 + target_bin"
    assert [c.name for c in spec.action.choices] == ["pan_right", "stay", "pan_left"]


def test_the_reach_workspace_holds_the_fingers_in_any_pose(description):
    low, high = reach_workspace(description)
    kinematics, rng = Kinematics(description.urdf), np.random.default_rng(0)
    limits = [description.limits[j] for j in arm_joints("r")]
    for _ in range(300):
        pose = {j: rng.uniform(lim.lower, lim.upper) for j, lim in zip(arm_joints("r"), limits)}
        fingers = kinematics.link_position("gripper_r_force_link", pose)
        assert np.all(low <= fingers) and np.all(fingers <= high), fingers


@pytest.mark.parametrize("action", [[1e9, -1e9, 1e9], [np.inf, -np.inf, np.inf], [-np.inf, np.inf, -1e30]])
def test_extreme_actions_command_targets_inside_the_limits(specs, description, action):
    spec = specs[0]
    for positions in ({j.name: j.lower_rad for j in spec.joints}, {j.name: j.upper_rad for j in spec.joints}):
        targets = spec.command(np.array(action), positions)
        for joint, value in targets.items():
            assert description.limits[joint].contains(value), (joint, value)
            assert abs(value - positions[joint]) <= spec.action.scale_rad + 1e-12


def test_a_contract_with_problems_lists_them_all(specs):
    broken = specs[0].contract()
    broken["control_rate_hz"] = "fast"
    del broken["joints"]
    with pytest.raises(InvalidRequest) as err:
        TaskSpec.from_contract(broken)
    assert len(err.value.problems) == 2
    with pytest.raises(InvalidRequest, match="invalid task contract"):
        TaskSpec.from_contract("{not json")


def test_bad_settings_are_refused_with_every_problem():
    with pytest.raises(InvalidRequest) as err:
        parse_config(ReachConfig, {"control_rate_hz": -1, "target_x_m": [0.5, 0.2], "colour": "red",
                                   "perturbation": {"servo_tau_scale": 0}})
    problems = "\n".join(err.value.problems)
    assert len(err.value.problems) == 4, problems
    for field in ("control_rate_hz", "target_x_m", "colour", "perturbation.servo_tau_scale"):
        assert field in problems


def test_a_control_rate_the_controller_cannot_stream_is_refused(safety):
    assert control_cycles(10.0, safety) == 20 and control_cycles(2.5, safety) == 80
    with pytest.raises(InvalidRequest) as err:
        control_cycles(1.5, safety)   # 133.3 cycles, and 0.67 s between targets: the watchdog stops the joints
    assert len(err.value.problems) == 2 and "watchdog" in err.value.problems[1]
