#!/usr/bin/env bash
# Entrypoint of both images (docker/jetson.Dockerfile: Humble, docker/x86.Dockerfile: Jazzy).
# The image sets ROS_DISTRO; this sources that ROS install and the workspace built into the
# image, then runs the command (default: ros2 launch embodied_ros robot.launch.py).
# The Python virtual environment (/opt/venv: the pinned requirements/runtime.txt and the core
# library) is first on PATH from the image's ENV, and the node executables' shebangs name it.
set -eo pipefail  # not -u: ROS's setup.bash reads unset variables

: "${ROS_DISTRO:?the image must set ROS_DISTRO}"
workspace="${EMBODIED_WS:-/opt/embodied/ros2_ws}"

# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source "${workspace}/install/setup.bash"

exec "$@"
