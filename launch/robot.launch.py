"""Launch the robot graph on a full ROS 2 install: ``ros2 launch embodied_ros robot.launch.py``.

Reads the same launch/robot.yaml as the project's own launcher (``embodied up``), so the two
cannot drift apart. Needs only the ROS install, this package and PyPI's PyYAML: it does not
import embodied_ai.

Launch arguments:
  config                path to the graph config (default: share/embodied_ros/launch/robot.yaml)
  hardware              servo_controller's ``hardware`` parameter (default: the config's)
  hardware_config_file  servo_controller's ``hardware_config_file`` (default: the config's);
                        ``$(root)`` in it is replaced as in the config, so e.g.
                        hardware:=dynamixel hardware_config_file:='$(root)/launch/hardware_dynamixel.yaml'

``$(root)`` in the config becomes the embodied_ros share directory (it holds launch/ and urdf/).
The DDS environment is filled in as embodied_ai.launcher.environment does it: only variables
that are not already set. A crashed node is respawned after restart.initial_backoff_s; ROS
launch has a fixed delay, so the launcher's doubling back-off (max_backoff_s, stable_after_s)
does not apply here.

Everything above generate_launch_description is pure Python (PyYAML only) so that tests can
import this file without ROS; the launch modules are imported inside it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

PACKAGE = "embodied_ros"
ROOT_SUBSTITUTION = "$(root)"
# Distributions before Iron know only ROS_LOCALHOST_ONLY; Iron and later use
# ROS_AUTOMATIC_DISCOVERY_RANGE and warn that ROS_LOCALHOST_ONLY is deprecated.
LOCALHOST_ONLY_DISTROS = frozenset({"foxy", "galactic", "humble"})
# Launch arguments whose empty default means "as in the config": (node, parameter).
PARAMETER_ARGUMENTS = {
    "hardware": ("servo_controller", "hardware"),
    "hardware_config_file": ("servo_controller", "hardware_config_file"),
}


def _substitute(value: object, root: str) -> object:
    if isinstance(value, str):
        return value.replace(ROOT_SUBSTITUTION, root)
    if isinstance(value, list):
        return [_substitute(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, root) for k, v in value.items()}
    return value


def load_config(config_path: str | os.PathLike, root: str | os.PathLike) -> dict:
    """The config as a dict, with ``$(root)`` replaced by ``root``."""
    path = Path(config_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read launch config {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        raise ValueError(f"launch config {path} has no 'nodes' mapping")
    return _substitute(data, str(root))


def graph_from_config(
    config_path: str | os.PathLike,
    root: str | os.PathLike,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> list[dict]:
    """One dict per enabled node of the config, in its order, ready for launch_ros's Node.

    Keys: name, package, executable, parameters (``$(root)`` replaced), respawn, respawn_delay
    (restart.initial_backoff_s). ``overrides`` maps node -> {parameter: value}; values may use
    ``$(root)`` too.
    """
    config = load_config(config_path, root)
    nodes = config["nodes"]
    overrides = _substitute({n: dict(p) for n, p in (overrides or {}).items()}, str(root))
    for node in overrides:
        if node not in nodes:
            raise ValueError(f"override for node '{node}': no such node in {config_path}")
    respawn_delay = float((config.get("restart") or {}).get("initial_backoff_s", 1.0))
    graph = []
    for name, spec in nodes.items():
        spec = spec or {}
        if not spec.get("enabled", True):
            continue
        for key in ("package", "executable"):
            if not spec.get(key):
                raise ValueError(f"node '{name}' in {config_path} has no '{key}'")
        parameters = dict(spec.get("parameters") or {})
        parameters.update(overrides.get(name, {}))
        graph.append({
            "name": name,
            "package": spec["package"],
            "executable": spec["executable"],
            "parameters": parameters,
            "respawn": bool(spec.get("respawn", True)),
            "respawn_delay": respawn_delay,
            "process": spec.get("process") or name,
        })
    return graph


def processes_from_graph(graph: list[dict]) -> list[dict]:
    """The graph's nodes by process, in order: ``{"name", "nodes": [node dicts]}``. Nodes that
    name the same ``process`` in the config share one (embodied_ros's ``container``)."""
    processes: dict[str, list[dict]] = {}
    for node in graph:
        processes.setdefault(node["process"], []).append(node)
    return [{"name": name, "nodes": nodes} for name, nodes in processes.items()]


def container_arguments(nodes: list[dict], params_dir: str | os.PathLike) -> list[str]:
    """The container's arguments for ``nodes``, each node's parameters written to a file in
    ``params_dir`` (the format the container's nodes read)."""
    arguments = []
    for node in nodes:
        path = Path(params_dir) / f"{node['name']}.params.yaml"
        path.write_text(yaml.safe_dump({"/**": {"ros__parameters": node["parameters"]}}), encoding="utf-8")
        arguments += ["--node", node["name"], f"{node['package']}.{node['executable']}", str(path)]
    return arguments


def dds_environment(
    config_path: str | os.PathLike, root: str | os.PathLike, environ: Mapping[str, str]
) -> dict[str, str]:
    """The DDS variables to set: the config's defaults for those ``environ`` does not set."""
    dds = load_config(config_path, root).get("dds") or {}
    defaults = {"ROS_DOMAIN_ID": str(int(dds.get("domain_id", 42)))}
    if dds.get("localhost_only", True):
        defaults["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        if environ.get("ROS_DISTRO") in LOCALHOST_ONLY_DISTROS:
            defaults["ROS_LOCALHOST_ONLY"] = "1"
    profile = dds.get("fastdds_profile")
    if profile:
        defaults["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
        # Older Fast DDS releases read only the older name; set both, as environment.py does.
        defaults["FASTRTPS_DEFAULT_PROFILES_FILE"] = environ.get("FASTDDS_DEFAULT_PROFILES_FILE", str(profile))
    defaults["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
    defaults["PYTHONUNBUFFERED"] = "1"
    return {k: v for k, v in defaults.items() if k not in environ}


def generate_launch_description():
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    share = get_package_share_directory(PACKAGE)

    def launch_graph(context, *args, **kwargs):
        config = LaunchConfiguration("config").perform(context)
        overrides: dict[str, dict[str, object]] = {}
        for argument, (node, parameter) in PARAMETER_ARGUMENTS.items():
            value = LaunchConfiguration(argument).perform(context)
            if value:
                overrides.setdefault(node, {})[parameter] = value
        actions = [SetEnvironmentVariable(name, value)
                   for name, value in dds_environment(config, share, context.environment).items()]
        params_dir = tempfile.mkdtemp(prefix="embodied_launch_")
        for process in processes_from_graph(graph_from_config(config, share, overrides)):
            first = process["nodes"][0]
            if len(process["nodes"]) == 1:
                actions.append(Node(package=first["package"], executable=first["executable"], name=first["name"],
                                    parameters=[first["parameters"]], respawn=first["respawn"],
                                    respawn_delay=first["respawn_delay"], output="screen"))
            else:
                actions.append(Node(package=PACKAGE, executable="container", name=process["name"],
                                    arguments=container_arguments(process["nodes"], params_dir),
                                    respawn=first["respawn"], respawn_delay=first["respawn_delay"], output="screen"))
        return actions

    return LaunchDescription([
        DeclareLaunchArgument(
            "config", default_value=os.path.join(share, "launch", "robot.yaml"),
            description="graph config (the file `embodied up` reads)"),
        DeclareLaunchArgument(
            "hardware", default_value="",
            description="servo_controller hardware back end, e.g. sim or dynamixel (empty: the config's)"),
        DeclareLaunchArgument(
            "hardware_config_file", default_value="",
            description="servo_controller hardware config; $(root) allowed (empty: the config's)"),
        OpaqueFunction(function=launch_graph),
    ])
