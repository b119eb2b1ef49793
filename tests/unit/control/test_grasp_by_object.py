"""Grasp by object id on the simulated robot: the head camera's frame goes through the shipped
tabletop detector, the tracker and the table placement; the id perception gives the can is
reached through the controller's validated moves and the simulator puts *that* object
between the fingers."""

import math

import numpy as np
import pytest

from embodied_ai.control import CommandState, ServoController
from embodied_ai.control.reach import ArmReach, KnownObjects, ReachError, grasp_steps, plan_grasp, run_steps
from embodied_ai.errors import EmbodiedError, SafetyViolation
from embodied_ai.hardware.factory import load_hardware_config, sim_object_from_config, sim_table_from_config
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.perception.detector import Detector
from embodied_ai.perception.pipeline import Perception
from embodied_ai.perception.render import CameraIntrinsics, TabletopRenderer
from embodied_ai.perception.tracker import IouTracker
from tests.conftest import REPO, ControllerRig, RecordingHardware

HEAD = "head_camera_optical_frame"


@pytest.fixture
def scene_sim(description, clock):
    config = load_hardware_config(REPO / "launch" / "hardware_sim.yaml")
    sim = SimulatedRobot(description, [sim_object_from_config(o) for o in config["objects"]], clock=clock,
                         table=sim_table_from_config(config["table"]), initial_positions=config["initial_positions"])
    sim.open()
    return sim


@pytest.fixture
def rig(description, safety, clock, scene_sim):
    bus = RecordingHardware(scene_sim)
    controller = ServoController(description, bus, safety, clock=clock)
    controller.activate()
    yield ControllerRig(controller, clock, scene_sim)
    for write in bus.writes:   # the whole sequence stayed inside the URDF limits
        for joint, value in write.items():
            limits = description.joint(joint)
            assert math.isfinite(value) and limits.lower <= value <= limits.upper, (joint, value)


@pytest.fixture(scope="module")
def tabletop() -> Detector:
    return Detector.from_manifest(REPO / "models" / "tabletop" / "manifest.yaml", providers=["CPUExecutionProvider"])


def perceive(detector: Detector, sim: SimulatedRobot, frames: int = 3) -> KnownObjects:
    """A few head-camera frames through detector, tracker and placement, as the perception node does."""
    intrinsics = CameraIntrinsics.from_fov(640, 480, 90)
    renderer = TabletopRenderer(sim.kinematics, sim.table, intrinsics)
    perception = Perception(detector, IouTracker(), sim.kinematics, intrinsics, HEAD, sim.table.top_z_m)
    known = KnownObjects()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        image = renderer.render(HEAD, sim.positions, sim.objects, rng=rng).image
        for obj in perception.process(image, sim.positions):
            known.update(obj.object_id, obj.detection.label, obj.position)
    return known


def object_id_of(known: KnownObjects, label: str) -> int:
    matches = [i for i in range(1, 100) if _label(known, i) == label]
    assert len(matches) == 1, f"expected one {label}, perception knows {matches}"
    return matches[0]


def _label(known: KnownObjects, object_id: int) -> str | None:
    try:
        return known.resolve(object_id).label
    except EmbodiedError:
        return None


@pytest.mark.parametrize("label, side, sim_name", [("can", "r", "green_can"), ("ball", "l", "orange_ball")])
def test_the_object_id_from_perception_gets_that_object_grasped(rig, scene_sim, tabletop, label, side, sim_name):
    known = perceive(tabletop, scene_sim)
    seen = known.resolve(object_id_of(known, label))
    steps = grasp_steps(ArmReach(rig.controller.description), side, seen.position, rig.controller.setpoints, 6.0)
    handle = run_steps(rig.controller, side, steps, lambda step, h: rig.run_until_done(h, timeout=15))
    assert handle.state is CommandState.SUCCEEDED and handle.result["grasped"] == 1.0, handle.message
    assert scene_sim.held_object(side).name == sim_name
    assert rig.status.forces[f"gripper_{side}"] == pytest.approx(6.0, abs=0.7)
    # Lifted: the object left the table with the hand.
    assert scene_sim.grasp_point(side)[2] > scene_sim.table.top_z_m + 0.08


def test_with_no_side_given_the_arm_that_reaches_the_object_is_chosen(rig, scene_sim, tabletop):
    known = perceive(tabletop, scene_sim)
    reach, current = ArmReach(rig.controller.description), rig.controller.setpoints
    for label, side in (("can", "r"), ("ball", "l")):
        assert plan_grasp(reach, None, known.resolve(object_id_of(known, label)).position, current, 6.0)[0] == side
    cube = known.resolve(object_id_of(known, "cube"))
    with pytest.raises(ReachError, match="out of reach of the (l|r) arm.*; .*out of reach of the (l|r) arm"):
        plan_grasp(reach, None, cube.position, current, 6.0)
    assert plan_grasp(reach, "r", known.resolve(object_id_of(known, "can")).position, current, 6.0)[0] == "r"


def test_an_object_out_of_reach_is_refused_before_anything_moves(rig, scene_sim, tabletop):
    known = perceive(tabletop, scene_sim)
    cube = known.resolve(object_id_of(known, "cube"))    # mid-table: the shoulders' roll limits stop both arms short
    before = rig.controller.setpoints
    for side in ("r", "l"):
        with pytest.raises(ReachError, match=f"out of reach of the {side} arm"):
            grasp_steps(ArmReach(rig.controller.description), side, cube.position, before, 6.0)
    assert rig.controller.setpoints == before


def test_a_force_over_the_cap_is_refused_before_the_arm_moves(rig, scene_sim, tabletop):
    known = perceive(tabletop, scene_sim)
    can = known.resolve(object_id_of(known, "can"))
    steps = grasp_steps(ArmReach(rig.controller.description), "r", can.position, rig.controller.setpoints, 100.0)
    before = rig.controller.setpoints
    with pytest.raises(SafetyViolation, match="exceeds the cap"):
        run_steps(rig.controller, "r", steps, lambda step, h: rig.run_until_done(h))
    rig.step(0.2)
    assert rig.controller.setpoints == before


def test_the_e_stop_stops_the_sequence(rig, scene_sim, tabletop):
    known = perceive(tabletop, scene_sim)
    can = known.resolve(object_id_of(known, "can"))
    steps = grasp_steps(ArmReach(rig.controller.description), "r", can.position, rig.controller.setpoints, 6.0)

    def wait(step, handle):
        if step.name == "pre-grasp":
            rig.step(0.2)
            rig.controller.emergency_stop("test")   # on the way to the object
        rig.run_until_done(handle)

    handle = run_steps(rig.controller, "r", steps, wait)
    assert handle.state is CommandState.ABORTED and handle.message.startswith("pre-grasp: emergency stop")
    assert scene_sim.held_object("r").name == "red_cube"   # nothing was picked


def test_unknown_and_stale_object_ids_are_refused():
    now = [0.0]
    known = KnownObjects(max_age_s=5.0, clock=lambda: now[0])
    with pytest.raises(EmbodiedError, match="no detections yet"):
        known.resolve(3)
    known.update(3, "can", (0.3, -0.2, 0.33))
    with pytest.raises(EmbodiedError, match="known ids: 3"):
        known.resolve(4)
    now[0] = 6.0
    with pytest.raises(EmbodiedError, match="last seen 6.0 s ago"):
        known.resolve(3)
