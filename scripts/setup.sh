#!/usr/bin/env bash
# Set up everything from nothing, idempotently: .venv/ with ROS 2 Jazzy wheels and the
# project's pinned dependencies, the CMake path fix, embodied_interfaces built into the venv,
# the core library and the node package installed, and the `embodied` command in .venv/bin.
# A second run with nothing changed only checks a fingerprint and returns in about a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
stamp="$venv/.embodied-setup"
build="$root/build/embodied_interfaces"

# Everything that changes what set-up produces.
fingerprint() {
  (cd "$root" && cat scripts/setup.sh scripts/fix_ros_cmake_paths.py requirements/*.txt pyproject.toml \
     ros2_ws/src/embodied_ros/setup.py ros2_ws/src/embodied_ros/package.xml && \
     find ros2_ws/src/embodied_interfaces -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1
}

want="$(fingerprint)"
if [[ -x "$venv/bin/embodied" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "setup: up to date ($venv)"
  exit 0
fi

echo "setup: installing into $venv"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
# A child of another venv's bootstrapped interpreter would inherit this guard and then fail
# to import rclpy (platform.md); set-up starts clean.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
mkdir -p "$root/build"
log="$root/build/setup.log"
: >"$log"
pip() {
  "$venv/bin/python" -m pip --disable-pip-version-check --no-input "$@" >>"$log" 2>&1 \
    || { tail -40 "$log"; echo "setup: pip $1 failed (full log: $log)"; exit 1; }
}
pip install --upgrade "pip==25.3" "setuptools==80.9.0" "wheel==0.48.0"
pip install -c "$root/requirements/constraints.txt" \
  -r "$root/requirements/ros.txt" -r "$root/requirements/runtime.txt" -r "$root/requirements/test.txt"

"$venv/bin/python" "$root/scripts/fix_ros_cmake_paths.py"

echo "setup: building embodied_interfaces"
rm -rf "$build"
cmake -S "$root/ros2_ws/src/embodied_interfaces" -B "$build" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$venv/bin/ninja" \
  -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
  -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF >>"$log" 2>&1 \
  || { tail -40 "$log"; echo "setup: cmake configure failed"; exit 1; }
cmake --build "$build" -j "$(nproc)" >>"$log" 2>&1 || { tail -40 "$log"; echo "setup: interface build failed"; exit 1; }
cmake --install "$build" >>"$log" 2>&1

echo "setup: installing the core library and the node package"
pip install --no-deps --no-build-isolation -e "$root" -e "$root/ros2_ws/src/embodied_ros"

"$venv/bin/python" -c "import rclpy, embodied_interfaces.action, embodied_ai, embodied_ros" \
  || { echo "setup: the installed environment does not import"; exit 1; }
echo "$want" >"$stamp"
echo "setup: done ($venv)"
