# syntax=docker/dockerfile:1
# The runtime on a Jetson (Orin, JetPack 6 / L4T r36.4): Ubuntu 22.04 with CUDA and TensorRT
# from NVIDIA's image, ROS 2 Humble from the ROS apt repository (Humble is the ROS 2 release
# for Ubuntu 22.04; Jazzy has no 22.04 packages).
# Build on the Jetson itself, from the repository root:
#   docker build -f docker/jetson.Dockerfile -t embodied:jetson .
# (or on x86_64 with `docker buildx build --platform linux/arm64 ...` and QEMU: slow).
# Run (docker/README.md has more):
#   docker run --rm -it --runtime nvidia --network host --ipc host \
#     --device /dev/ttyUSB0 embodied:jetson \
#     ros2 launch embodied_ros robot.launch.py hardware:=dynamixel \
#       hardware_config_file:='$(root)/launch/hardware_dynamixel.yaml'
#   --runtime nvidia   NVIDIA's container runtime: GPU, CUDA and TensorRT inside the container
#                      (the nodes of today do not need it; perception will)
#   --device /dev/ttyUSB0  the Dynamixel bus (U2D2 adapter; launch/hardware_dynamixel.yaml's
#                      port). As root in the container no dialout group is needed; a non-root
#                      user needs --group-add dialout. A udev rule on the host giving the
#                      adapter a stable name (e.g. /dev/ttyDXL) is safer than ttyUSB0.
#   --network host --ipc host  DDS discovery over the host's loopback and Fast DDS shared
#                      memory (/dev/shm) with ROS processes outside the container
# Not built yet: no Docker engine on the development machines (docker/README.md).
FROM nvcr.io/nvidia/l4t-jetpack:r36.4.0

ENV ROS_DISTRO=humble \
    DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The ROS apt repository, through ros-infrastructure's ros2-apt-source package (the way the
# ROS install guide sets up the source and its signing key), pinned for a reproducible build.
ARG ROS_APT_SOURCE_VERSION=1.1.0
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && curl -fsSL -o /tmp/ros2-apt-source.deb \
        "https://github.com/ros-infrastructure/ros-apt-source/releases/download/${ROS_APT_SOURCE_VERSION}/ros2-apt-source_${ROS_APT_SOURCE_VERSION}.$(. /etc/os-release && echo "${UBUNTU_CODENAME}")_all.deb" \
    && apt-get install -y --no-install-recommends /tmp/ros2-apt-source.deb \
    && rm -f /tmp/ros2-apt-source.deb && rm -rf /var/lib/apt/lists/*

# ROS 2 from apt, not from requirements/ros.txt or constraints.txt: those are ros-jazzy-*
# PyPI wheels for the development machines (x86_64 only, Jazzy only, no ros2 launch /
# launch_ros); a Jetson needs aarch64 Humble, which only the ROS apt repository has, and one
# process must not load two ROS builds. The message packages are those the nodes and
# embodied_interfaces use (most come with ros-base already; naming them keeps the image
# right if ros-base ever drops one). python3-numpy: see the pins below.
RUN apt-get update && apt-get install -y --no-install-recommends \
        ros-humble-ros-base \
        ros-humble-rclpy \
        ros-humble-launch-ros \
        ros-humble-rmw-fastrtps-cpp \
        ros-humble-std-msgs \
        ros-humble-sensor-msgs \
        ros-humble-geometry-msgs \
        ros-humble-trajectory-msgs \
        ros-humble-diagnostic-msgs \
        ros-humble-std-srvs \
        ros-humble-action-msgs \
        ros-humble-lifecycle-msgs \
        ros-humble-rosidl-default-generators \
        python3-colcon-common-extensions \
        python3-venv \
        python3-dev \
        python3-numpy \
        python3-yaml \
        build-essential \
        cmake \
    && rm -rf /var/lib/apt/lists/*

# A venv as in the x86 image (one layout for both; pip does not write over apt's packages in
# /usr/lib/python3). --system-site-packages keeps apt's rclpy, numpy, colcon and JetPack's
# TensorRT bindings visible.
ENV VIRTUAL_ENV=/opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN python3 -m venv --system-site-packages /opt/venv \
    && python -m pip install "pip==25.3"

WORKDIR /opt/embodied
# The development set-up's pins (requirements/runtime.txt, transitive versions held by
# constraints.txt, which only constrains), with two exceptions forced by Python 3.10
# (Ubuntu 22.04's, the only one Humble's rclpy is built for): numpy==2.4.6 and crc==8.0.0
# require Python >= 3.11 and cannot be installed here.
#   numpy: Ubuntu's python3-numpy (1.21.5, apt above), the ABI every Humble binary was built
#          against; the core library only uses numpy.random.default_rng.
#   crc:   7.1.0, the last release for Python 3.10; same Calculator/Configuration API and
#          the same Protocol 2.0 checksums.
COPY requirements/ requirements/
RUN grep -vE '^(numpy|crc)==' requirements/runtime.txt > /tmp/runtime-py310.txt \
    && echo "crc==7.1.0" >> /tmp/runtime-py310.txt \
    && grep -vE '^(numpy|crc)==' requirements/constraints.txt > /tmp/constraints-py310.txt \
    && python -m pip install -c /tmp/constraints-py310.txt -r /tmp/runtime-py310.txt \
    && python -m pip install --no-deps -c /tmp/constraints-py310.txt -r requirements/no-deps.txt \
    && rm /tmp/runtime-py310.txt /tmp/constraints-py310.txt

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
# import pydantic & co. from the venv, and rclpy from /opt/ros through PYTHONPATH). Humble's
# CMake modules look for PYTHON_EXECUTABLE, newer ones for Python3_EXECUTABLE: give both.
RUN source /opt/ros/humble/setup.bash \
    && cd ros2_ws \
    && python -m colcon build --event-handlers console_direct+ \
        --cmake-args -DBUILD_TESTING=OFF \
            -DPYTHON_EXECUTABLE=/opt/venv/bin/python -DPython3_EXECUTABLE=/opt/venv/bin/python \
    && rm -rf build log

COPY docker/entrypoint.sh /usr/local/bin/embodied-entrypoint
RUN chmod 0755 /usr/local/bin/embodied-entrypoint
ENTRYPOINT ["/usr/local/bin/embodied-entrypoint"]
CMD ["ros2", "launch", "embodied_ros", "robot.launch.py"]
