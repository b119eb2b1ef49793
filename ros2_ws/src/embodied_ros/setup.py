"""ament_python package of the runtime's nodes. Installed with colcon on a ROS install and
with pip into .venv/ by scripts/setup.sh; both give the same ``ros2 run`` executables."""

import os
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "embodied_ros"
# launch/ and urdf/ live at the repository root and are shared with the project's launcher.
repo = Path(__file__).resolve().parents[3]


def _shared(folder: str, pattern: str) -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(os.path.relpath(p, here) for p in glob(str(repo / folder / pattern)) if os.path.isfile(p))


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(include=[package_name, f"{package_name}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", _shared("launch", "*")),
        (f"share/{package_name}/urdf", _shared("urdf", "*.urdf")),
        # Perception model manifests and the small models the project trains ($(root)/models/...).
        (f"share/{package_name}/models/tabletop",
         [*_shared("models/tabletop", "*.yaml"), *_shared("models/tabletop", "*.onnx"),
          *_shared("models/tabletop", "*.md")]),
        (f"share/{package_name}/models/centerface", _shared("models/centerface", "*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Embodied AI maintainers",
    description="ROS 2 nodes of the embodied AI runtime",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "servo_controller = embodied_ros.servo_controller:main",
            "sensors = embodied_ros.sensors:main",
            "camera = embodied_ros.camera:main",
            "perception = embodied_ros.perception:main",
            "rest_bridge = embodied_ros.rest_bridge:main",
            "asr = embodied_ros.asr:main",
            "tts = embodied_ros.tts:main",
            "commander = embodied_ros.commander:main",
            "experts = embodied_ros.experts:main",
            "jobs = embodied_ros.jobs:main",
            "policy = embodied_ros.policy:main",
            "vision_services = embodied_ros.vision_services:main",
            "container = embodied_ros.container:main",
        ],
    },
)
