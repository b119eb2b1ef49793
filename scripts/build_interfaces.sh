#!/usr/bin/env bash
# Build ros2_ws/src/embodied_interfaces with plain CMake into a venv prefix (platform.md):
# after `cmake --install` the generated Python types import with no further environment.
# Usage: scripts/build_interfaces.sh [VENV]   (default: .venv at the repository root)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$root/.venv}"
build="$root/build/embodied_interfaces"
"$venv/bin/python" "$root/scripts/fix_ros_cmake_paths.py"
rm -rf "$build"
cmake -S "$root/ros2_ws/src/embodied_interfaces" -B "$build" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$venv/bin/ninja" \
  -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
  -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF
cmake --build "$build" -j "$(nproc)"
cmake --install "$build"
