"""Grasp by object id on the simulated robot: the head camera's frame goes through the shipped
tabletop detector, the tracker and the table placement; the id perception gives the can is
reached through the controller's validated moves and the simulator puts *that* object
between the fingers."""

import math

import numpy as np
import pytest

from embodied_ai.control import CommandState, ServoController
from embodied_ai.control.reach import (
    ArmReach,
    KnownObjects,
    ReachError,
    grasp_steps,
    plan_grasp,
    plan_object_grasp,
    run_object_grasp,
    run_steps,
)
from embodied_ai.errors import EmbodiedError, ErrorCode, SafetyViolation
from embodied_ai.hardware.factory import load_hardware_config, sim_object_from_config, sim_table_from_config
from embodied_ai.hardware.sim import SimulatedRobot
from embodied_ai.perception.detector import Detector
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.perception.pipeline import Perception
from embodied_ai.perception.render import TabletopRenderer
from embodied_ai.perception.scene import SeenObject
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


def test_the_result_names_the_object_where_it_was_and_what_the_simulator_holds(description, safety, clock, scene_sim,
                                                                               tabletop):
    rig = ControllerRig(ServoController(description, scene_sim, safety, clock=clock), clock, scene_sim)
    rig.controller.activate()
    known = perceive(tabletop, scene_sim)
    can_id = object_id_of(known, "can")
    plan = plan_object_grasp(ArmReach(description), known, can_id, None, rig.controller.setpoints, 6.0)
    handle = run_object_grasp(rig.controller, plan, lambda step, h: rig.run_until_done(h, timeout=15))
    x, y, _ = known.resolve(can_id).position
    assert plan.side == "r" and handle.state is CommandState.SUCCEEDED
    assert handle.message == (f"object {can_id} (can at {x:.2f}, {y:.2f} m): grasped with "
                              f"{handle.result['force_applied']:.1f} N; "
                              "the simulator's 'green_can' is in the r gripper")


def test_a_refused_object_grasp_names_the_object(rig, scene_sim, tabletop):
    known = perceive(tabletop, scene_sim)
    reach = ArmReach(rig.controller.description)
    with pytest.raises(EmbodiedError, match="^grasp object 999: object 999 has not been seen"):
        plan_object_grasp(reach, known, 999, "r", rig.controller.setpoints, 6.0)
    plan = plan_object_grasp(reach, known, object_id_of(known, "can"), "r", rig.controller.setpoints, 100.0)
    with pytest.raises(EmbodiedError, match=f"^grasp object {plan.object_id}: .*exceeds the cap") as refused:
        run_object_grasp(rig.controller, plan, lambda step, h: rig.run_until_done(h))
    assert refused.value.code is ErrorCode.SAFETY_VIOLATION


def test_only_tracked_and_placed_detections_are_remembered():
    known = KnownObjects()
    known.remember([SeenObject("can", 0.9, 3, (0.3, -0.2, 0.33)), SeenObject("ball", 0.8, None, (0.3, 0.2, 0.33)),
                    SeenObject("cube", 0.7, 5, None)])
    assert known.resolve(3).label == "can"
    with pytest.raises(EmbodiedError, match="known ids: 3$"):
        known.resolve(5)
