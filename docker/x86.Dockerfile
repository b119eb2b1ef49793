# syntax=docker/dockerfile:1
# The runtime on x86_64: ROS 2 Jazzy from the ROS apt repository on Ubuntu 24.04.
# Build from the repository root (the context must hold ros2_ws/, src/, launch/, urdf/):
#   docker build -f docker/x86.Dockerfile -t embodied:jazzy .
# Run (docker/README.md has more):
#   docker run --rm -it --network host --ipc host embodied:jazzy
# Not built yet: no Docker engine on the development machines (docker/README.md).
FROM ros:jazzy-ros-base

ENV ROS_DISTRO=jazzy \
    DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# ROS 2 from apt, not from requirements/ros.txt or constraints.txt's ros-jazzy-* wheels: those
# are the development machines' way to get ROS without a ROS install (x86_64 only, and without
# ros2 launch / launch_ros); a container has the real install, and loading a second copy of
# rcl/rmw/Fast DDS from wheels beside /opt/ros would mix two ROS builds in one process.
# The message packages are those the nodes and embodied_interfaces use (most come with
# ros-base already; naming them keeps the image right if ros-base ever drops one).
RUN apt-get update && apt-get install -y --no-install-recommends \
        ros-jazzy-ros-base \
        ros-jazzy-rclpy \
        ros-jazzy-launch-ros \
        ros-jazzy-rmw-fastrtps-cpp \
        ros-jazzy-std-msgs \
        ros-jazzy-sensor-msgs \
        ros-jazzy-geometry-msgs \
        ros-jazzy-trajectory-msgs \
        ros-jazzy-diagnostic-msgs \
        ros-jazzy-std-srvs \
        ros-jazzy-action-msgs \
        ros-jazzy-lifecycle-msgs \
        ros-jazzy-rosidl-default-generators \
        python3-colcon-common-extensions \
        python3-venv \
        python3-dev \
        python3-yaml \
        build-essential \
        cmake \
    && rm -rf /var/lib/apt/lists/*

# Ubuntu 24.04's Python is externally managed (PEP 668): pip goes into a venv rather than
# --break-system-packages. --system-site-packages keeps apt's rclpy, message packages, colcon
# and catkin_pkg visible; the venv's own packages (the pins below) come first.
ENV VIRTUAL_ENV=/opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN python3 -m venv --system-site-packages /opt/venv \
    && python -m pip install "pip==25.3"

WORKDIR /opt/embodied
# The same pins as the development set-up (scripts/setup.sh): the core library's direct
# dependencies from requirements/runtime.txt, their transitive versions held by
# constraints.txt (which only constrains: nothing in it is installed unless runtime.txt
# needs it, so its ROS wheel names are ignored here).
COPY requirements/ requirements/
RUN python -m pip install -c requirements/constraints.txt -r requirements/runtime.txt \
    && python -m pip install --no-deps -c requirements/constraints.txt -r requirements/no-deps.txt

# The core library (ROS-free; its dependencies are installed above, hence --no-deps).
COPY pyproject.toml ./
COPY src/ src/
RUN python -m pip install --no-deps . && rm -rf build src/*.egg-info

# The ROS workspace. embodied_ros's setup.py installs ../../../launch and ../../../urdf, so
# the repository layout is kept: ros2_ws/src beside launch/ and urdf/.
COPY launch/ launch/
COPY urdf/ urdf/
COPY ros2_ws/src/ ros2_ws/src/
# colcon runs under the venv's Python so the node executables' shebangs name it (they then
# import pydantic & co. from the venv, and rclpy from /opt/ros through PYTHONPATH).
RUN source /opt/ros/jazzy/setup.bash \
    && cd ros2_ws \
    && python -m colcon build --event-handlers console_direct+ \
        --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=/opt/venv/bin/python \
    && rm -rf build log

COPY docker/entrypoint.sh /usr/local/bin/embodied-entrypoint
RUN chmod 0755 /usr/local/bin/embodied-entrypoint
ENTRYPOINT ["/usr/local/bin/embodied-entrypoint"]
CMD ["ros2", "launch", "embodied_ros", "robot.launch.py"]
