"""Processes from the launch config: a node alone, or the nodes that name the same ``process``
hosted by one container, each with its own name and parameters file."""

from __future__ import annotations

import pytest
import yaml

from embodied_ai.launcher.config import load_launch_config
from embodied_ai.launcher.graph import CONTAINER_MODULE, graph_processes
from tests.conftest import REPO

CONFIG = REPO / "launch" / "robot.yaml"


def write_config(tmp_path, nodes: dict) -> str:
    path = tmp_path / "launch" / "graph.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"nodes": nodes}, sort_keys=False))
    return str(path)


def node(executable: str, process: str | None = None, **parameters: object) -> dict:
    spec: dict = {"package": "embodied_ros", "executable": executable, "parameters": parameters}
    if process:
        spec["process"] = process
    return spec


def hosted(argv: list[str]) -> list[tuple[str, str, str]]:
    """The container's --node NAME MODULE PARAMS_FILE triples."""
    return [tuple(argv[i + 1:i + 4]) for i, arg in enumerate(argv) if arg == "--node"]


def test_nodes_naming_one_process_share_a_container_with_their_own_parameters(tmp_path):
    config = load_launch_config(write_config(tmp_path, {
        "left": node("camera", "cameras", rate_hz=2.0), "alone": node("sensors"),
        "right": node("camera", "cameras", rate_hz=5.0)}))
    specs = graph_processes(config, tmp_path / "run")
    assert [(s.name, list(s.nodes)) for s in specs] == [("cameras", ["left", "right"]), ("alone", [])]
    cameras, alone = specs
    assert cameras.argv[1:3] == ["-m", CONTAINER_MODULE]
    triples = hosted(list(cameras.argv))
    assert [(name, module) for name, module, _ in triples] == [("left", "embodied_ros.camera"),
                                                                ("right", "embodied_ros.camera")]
    rates = [yaml.safe_load(open(params))["/**"]["ros__parameters"]["rate_hz"] for _, _, params in triples]
    assert rates == [2.0, 5.0]
    assert alone.argv[1:3] == ["-m", "embodied_ros.sensors"] and "__node:=alone" in alone.argv


def test_only_starts_the_chosen_nodes_of_a_shared_process(tmp_path):
    config = load_launch_config(write_config(tmp_path, {
        "left": node("camera", "cameras"), "right": node("camera", "cameras"), "other": node("sensors")}))
    [only_left] = graph_processes(config, tmp_path / "run", only={"left"})
    assert only_left.name == "left" and "-m" in only_left.argv and "embodied_ros.camera" in only_left.argv
    [both] = graph_processes(config, tmp_path / "run", only={"left", "right"})
    assert both.name == "cameras" and [n for n, _, _ in hosted(list(both.argv))] == ["left", "right"]


@pytest.mark.parametrize("nodes, message", [
    ({"a": {**node("camera", "shared"), "respawn": False}, "b": node("camera", "shared")}, "disagree on respawn"),
    ({"a": node("camera", "b"), "c": node("camera", "b"), "b": node("sensors")}, "has the name of another node"),
    ({"a": node("camera", "not a name")}, "process"),
])
def test_inconsistent_processes_are_clear_errors(tmp_path, nodes, message):
    with pytest.raises(ValueError, match=message):
        load_launch_config(write_config(tmp_path, nodes))


def test_the_default_graph_keeps_the_servo_controller_in_a_process_of_its_own():
    processes = load_launch_config(CONFIG).processes()
    assert processes["servo_controller"] == ["servo_controller"]
    assert sum(len(nodes) for nodes in processes.values()) == len(load_launch_config(CONFIG).nodes)
    assert len(processes) < len(load_launch_config(CONFIG).nodes)


def test_a_fleet_adds_robots_under_their_namespaces_one_process_each(tmp_path):
    path = write_config(tmp_path, {"servo_controller": node("servo_controller", rate_hz=200.0),
                                   "policy": node("policy", "sensing", model_id=""), "camera": node("camera")})
    config = load_launch_config(path, ["servo_controller.rate_hz=100"], robots=3)
    specs = {spec.name: spec for spec in graph_processes(config, tmp_path / "run")}
    assert set(specs) == {"servo_controller", "policy", "camera", "robot_2", "robot_3"}   # a lone member names it
    triples = hosted(list(specs["robot_3"].argv))
    assert [(name, module) for name, module, _ in triples] == [
        ("robot_3/servo_controller", "embodied_ros.servo_controller"), ("robot_3/policy", "embodied_ros.policy")]
    # The overrides apply to every robot's copy.
    assert yaml.safe_load(open(triples[0][2]))["/**"]["ros__parameters"]["rate_hz"] == 100.0
    assert "__ns:=/robot_2" not in specs["servo_controller"].argv
    assert load_launch_config(path).processes().keys() == {"servo_controller", "sensing", "camera"}


def test_a_namespaced_node_alone_gets_its_namespace_remap(tmp_path):
    path = write_config(tmp_path, {"servo_controller": node("servo_controller"), "policy": node("policy")})
    config = load_launch_config(path, robots=2)
    [spec] = graph_processes(config, tmp_path / "run", only={"robot_2/policy"})
    assert spec.argv[-6:] == ["-r", "__ns:=/robot_2", "-r", "__node:=policy", "--params-file",
                              str(tmp_path / "run" / "robot_2.policy.params.yaml")]


def test_a_fleet_of_nodes_the_config_lacks_is_refused(tmp_path):
    path = write_config(tmp_path, {"servo_controller": node("servo_controller")})
    with pytest.raises(ValueError, match="fleet.robot_nodes names no node of the config: policy"):
        load_launch_config(path, robots=2)
