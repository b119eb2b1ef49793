"""Several nodes in one process, as a ROS 2 component container hosts them.

    container --node NAME MODULE PARAMS_FILE [--node ...]

Each ``--node`` names a node, the module whose ``component`` factory builds it (e.g.
``embodied_ros.camera``) and its parameters file. Every node keeps its own name, parameters and
executor; they share the interpreter, the imported libraries (numpy, ONNX Runtime, rclpy) and
one DDS participant, which is what a process costs in memory and idle CPU. The launcher config
(launch/robot.yaml, ``process:``) says which nodes share a process; a crash of one takes the
process down, and the launcher restarts it whole.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rclpy.utilities import remove_ros_args

from embodied_ros.kit.spin import ComponentFactory, Hosted, host


def node_options(name: str, params_file: str) -> dict[str, object]:
    """This node's own command line; global arguments (a launcher's ``__node`` remap meant for
    the container) do not reach it. ``ns/name`` puts the node in namespace ``/ns``."""
    namespace, _, node = name.rpartition("/")
    remaps = ["-r", f"__ns:=/{namespace}"] if namespace else []
    return {"cli_args": ["--ros-args", *remaps, "-r", f"__node:={node}", "--params-file", params_file],
            "use_global_arguments": False}


def factory_of(module_name: str) -> ComponentFactory:
    module = importlib.import_module(module_name)
    factory = getattr(module, "component", None)
    if not callable(factory):
        raise SystemExit(f"container: module {module_name} has no component() factory")
    return factory


def parse(argv: list[str]) -> list[Hosted]:
    parser = argparse.ArgumentParser(prog="container", description=__doc__.split("\n\n")[0])
    parser.add_argument("--node", nargs=3, action="append", required=True, metavar=("NAME", "MODULE", "PARAMS_FILE"),
                        help="a node to host (repeat for each)")
    nodes = parser.parse_args(argv).node
    names = [name for name, _, _ in nodes]
    if len(set(names)) != len(names):
        parser.error(f"node names must be unique: {', '.join(names)}")
    return [Hosted(name, factory_of(module), node_options(name, params)) for name, module, params in nodes]


def main(args: list[str] | None = None) -> None:
    argv = sys.argv if args is None else args
    host(parse(remove_ros_args(argv)[1:]), argv)


if __name__ == "__main__":
    main()
