"""Rewrite the wheel builder's include paths in the ROS wheels' exported CMake files.

The ros-jazzy-* wheels export CMake targets whose INTERFACE_INCLUDE_DIRECTORIES name the
machine that built them (/opt/python/cpXY-cpXY/include/pythonX.Y and that machine's numpy
include dir). CMake's generate step fails on those paths until they point at this
interpreter's headers and this numpy. Idempotent; re-run after installing more ROS wheels.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

BUILDER_PYTHON = re.compile(r"/opt/python/cp\d+-cp\d+/include/python\d+\.\d+")
BUILDER_NUMPY = re.compile(r"/opt/python/cp\d+-cp\d+/lib/python\d+\.\d+/site-packages/numpy/(?:_core|core)/include")


def rewrite(prefix: Path) -> int:
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    changed = 0
    for path in sorted((prefix / "share").glob("*/cmake/*.cmake")):
        text = path.read_text(encoding="utf-8")
        new = BUILDER_PYTHON.sub(python_include, BUILDER_NUMPY.sub(numpy_include, text))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


if __name__ == "__main__":
    count = rewrite(Path(sys.prefix))
    print(f"ROS CMake exports: rewrote include paths in {count} file(s)")
