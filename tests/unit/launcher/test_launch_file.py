"""launch/robot.launch.py (for a full ROS 2 install) reads launch/robot.yaml as `embodied up` does.

`launch` and `launch_ros` are not on PyPI, so the launch description itself cannot be built
here; these tests cover the pure helpers it is made from, and cross-check them against the
project's own launcher (embodied_ai.launcher) so the two readings of the YAML cannot drift.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

from embodied_ai.launcher.config import load_launch_config
from embodied_ai.launcher.environment import ros_environment
from tests.conftest import REPO

LAUNCH_FILE = REPO / "launch" / "robot.launch.py"
CONFIG = REPO / "launch" / "robot.yaml"
SHARE = "/opt/ros_ws/install/embodied_ros/share/embodied_ros"  # what get_package_share_directory gives


@pytest.fixture(scope="module")
def launch_file():
    spec = importlib.util.spec_from_file_location("embodied_robot_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    # No launch/__pycache__/: setup.py installs everything in launch/ and cannot copy a folder.
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def _yaml() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def _imported(nodes) -> set[str]:
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_imports_no_embodied_ai_and_launch_only_when_launching():
    tree = ast.parse(LAUNCH_FILE.read_text(encoding="utf-8"))
    assert _imported(tree.body) <= {"__future__", "os", "tempfile", "collections", "pathlib", "yaml"}
    assert "embodied_ai" not in _imported(ast.walk(tree))
    assert {"launch", "launch_ros", "ament_index_python"} <= _imported(ast.walk(tree))


def test_graph_has_the_configs_nodes_in_order(launch_file):
    graph = launch_file.graph_from_config(CONFIG, SHARE)
    data = _yaml()
    assert [n["name"] for n in graph] == list(data["nodes"])
    assert {"servo_controller", "sensors", "rest_bridge"} <= set(data["nodes"])
    for node in graph:
        spec = data["nodes"][node["name"]]
        assert node["package"] == spec["package"] == "embodied_ros"
        # One executable may run under several names (camera: head_camera, wrist_camera).
        assert node["executable"] == spec["executable"]
        assert node["respawn"] is True
        assert node["respawn_delay"] == data["restart"]["initial_backoff_s"] == 1.0


def test_parameters_have_root_substituted(launch_file):
    graph = {n["name"]: n for n in launch_file.graph_from_config(CONFIG, SHARE)}
    assert graph["servo_controller"]["parameters"] == {
        "robot_description_file": f"{SHARE}/urdf/embodied_robot.urdf",
        "safety_config_file": f"{SHARE}/launch/safety.yaml",
        "hardware": "sim",
        "hardware_config_file": f"{SHARE}/launch/hardware_sim.yaml",
        "rate_hz": 200.0,
        "autostart": True,
    }
    assert graph["sensors"]["parameters"] == {"diagnostics_rate_hz": 1.0, "expected_loop_rate_hz": 200.0}


def test_substituted_paths_exist_under_the_repository_root(launch_file):
    """With the repository as root (the layout share/embodied_ros copies) every file is there."""
    for node in launch_file.graph_from_config(CONFIG, REPO):
        for name, value in node["parameters"].items():
            if name.endswith("_file"):
                assert Path(value).is_file(), value


def test_agrees_with_the_projects_launcher(launch_file):
    ours = launch_file.graph_from_config(CONFIG, SHARE)
    theirs = load_launch_config(CONFIG, root=Path(SHARE))
    assert [n["name"] for n in ours] == [name for name, spec in theirs.nodes.items() if spec.enabled]
    for node in ours:
        spec = theirs.nodes[node["name"]]
        assert (node["package"], node["executable"], node["respawn"]) == (spec.package, spec.executable, spec.respawn)
        assert node["parameters"] == spec.parameters
        assert node["respawn_delay"] == theirs.restart.initial_backoff_s
    processes = [(p["name"], [n["name"] for n in p["nodes"]]) for p in launch_file.processes_from_graph(ours)]
    assert processes == list(theirs.processes().items())


def test_a_shared_process_is_a_container_with_a_parameters_file_per_node(launch_file, tmp_path):
    [sensing] = [p for p in launch_file.processes_from_graph(launch_file.graph_from_config(CONFIG, SHARE))
                 if len(p["nodes"]) > 1 and p["nodes"][0]["name"] == "sensors"]
    arguments = launch_file.container_arguments(sensing["nodes"], tmp_path)
    triples = [arguments[i + 1:i + 4] for i, arg in enumerate(arguments) if arg == "--node"]
    assert [t[:2] for t in triples] == [[n["name"], f"embodied_ros.{n['executable']}"] for n in sensing["nodes"]]
    for (name, _, params), spec in zip(triples, sensing["nodes"]):
        assert yaml.safe_load(open(params))["/**"]["ros__parameters"] == spec["parameters"]


def test_hardware_override(launch_file):
    overrides = {"servo_controller": {
        "hardware": "dynamixel", "hardware_config_file": "$(root)/launch/hardware_dynamixel.yaml"}}
    graph = {n["name"]: n for n in launch_file.graph_from_config(CONFIG, SHARE, overrides)}
    parameters = graph["servo_controller"]["parameters"]
    assert parameters["hardware"] == "dynamixel"
    assert parameters["hardware_config_file"] == f"{SHARE}/launch/hardware_dynamixel.yaml"
    assert parameters["rate_hz"] == 200.0
    assert launch_file.PARAMETER_ARGUMENTS["hardware"] == ("servo_controller", "hardware")
    with pytest.raises(ValueError, match="no such node"):
        launch_file.graph_from_config(CONFIG, SHARE, {"servo": {"hardware": "sim"}})


def test_disabled_nodes_are_left_out(launch_file, tmp_path):
    data = _yaml()
    data["nodes"]["sensors"]["enabled"] = False
    config = tmp_path / "robot.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    names = [n["name"] for n in launch_file.graph_from_config(config, SHARE)]
    assert sorted(names) == sorted(n for n in data["nodes"] if n != "sensors")


def test_bad_config_is_a_value_error(launch_file, tmp_path):
    config = tmp_path / "robot.yaml"
    config.write_text("dds: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="nodes"):
        launch_file.graph_from_config(config, SHARE)
    with pytest.raises(ValueError, match="cannot read"):
        launch_file.graph_from_config(tmp_path / "missing.yaml", SHARE)


@pytest.mark.parametrize("distro", ["jazzy", "humble"])
def test_dds_environment_matches_the_launcher_where_unset(launch_file, distro):
    base = {"ROS_DISTRO": distro, "PATH": "/usr/bin"}
    ours = launch_file.dds_environment(CONFIG, SHARE, base)
    theirs = ros_environment(load_launch_config(CONFIG, root=Path(SHARE)).dds, base)
    expected = {k: v for k, v in theirs.items() if k not in base}
    if distro == "humble":
        expected["ROS_LOCALHOST_ONLY"] = "1"  # Humble has no ROS_AUTOMATIC_DISCOVERY_RANGE
    assert ours == expected
    assert ours["ROS_DOMAIN_ID"] == "42"
    assert ours["FASTDDS_DEFAULT_PROFILES_FILE"] == f"{SHARE}/launch/fastdds_localhost.xml"


def test_dds_environment_keeps_what_is_set(launch_file):
    base = {"ROS_DISTRO": "humble", "ROS_DOMAIN_ID": "7", "ROS_LOCALHOST_ONLY": "0",
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET", "FASTDDS_DEFAULT_PROFILES_FILE": "/etc/mine.xml",
            "RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}
    assert launch_file.dds_environment(CONFIG, SHARE, base) == {
        "FASTRTPS_DEFAULT_PROFILES_FILE": "/etc/mine.xml", "PYTHONUNBUFFERED": "1"}
