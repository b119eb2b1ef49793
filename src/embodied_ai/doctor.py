"""`embodied doctor`: what is installed or missing (ROS, interfaces, models, execution
providers, GPU, serial ports). Required items fail the command; optional ones only inform."""

from __future__ import annotations

import glob
import importlib
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _import(module: str) -> tuple[bool, str]:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # an optional accelerator may fail with anything, not just ImportError
        return False, f"{type(exc).__name__}: {exc}"
    return True, getattr(mod, "__version__", "") or _dist_version(module)


def _dist_version(module: str) -> str:
    for name in (module, module.replace("_", "-")):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "installed"


def _module_check(name: str, module: str, required: bool, hint: str = "") -> Check:
    ok, detail = _import(module)
    return Check(name, ok, detail if ok else f"missing ({detail}){' - ' + hint if hint else ''}", required)


def _ros_check() -> Check:
    ok, detail = _import("rclpy")
    if not ok:
        return Check("ROS 2 (rclpy)", False, f"{detail} - run scripts/setup.sh")
    distro = "jazzy" if _dist_version("ros_jazzy_rclpy") != "installed" else os.environ.get("ROS_DISTRO", "unknown")
    return Check("ROS 2 (rclpy)", True, f"rclpy {_dist_version('ros-rclpy')}, distro {distro}, "
                 f"RMW {os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp (default)')}")


def _config_check(config: Path) -> list[Check]:
    from embodied_ai.launcher.config import load_launch_config
    from embodied_ai.robot import load_robot_description

    try:
        launch = load_launch_config(config)
    except ValueError as exc:
        return [Check("launch config", False, str(exc))]
    checks = [Check("launch config", True, f"{config} ({len(launch.nodes)} nodes)")]
    urdf = launch.nodes.get("servo_controller")
    if urdf is not None:
        path = str(urdf.parameters.get("robot_description_file", ""))
        try:
            description = load_robot_description(path)
            checks.append(Check("robot description", True, f"{path}: {len(description.joint_names)} joints"))
        except ValueError as exc:
            checks.append(Check("robot description", False, str(exc)))
    return checks


def _dds_check() -> Check:
    keys = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE")
    shown = ", ".join(f"{k}={os.environ.get(k, '(unset; embodied up sets it)')}" for k in keys)
    return Check("DDS environment", True, shown, required=False)


def _models_check(root: Path) -> Check:
    manifests = sorted(glob.glob(str(root / "models" / "**" / "*.yaml"), recursive=True))
    return Check("model manifests", True, f"{len(manifests)} in models/" if manifests else "none yet", required=False)


def _providers_check() -> Check:
    try:
        import onnxruntime

        return Check("ONNX Runtime providers", True, ", ".join(onnxruntime.get_available_providers()), required=False)
    except ImportError:
        return Check("ONNX Runtime providers", False, "onnxruntime not installed", required=False)


def _gpu_check() -> Check:
    devices = glob.glob("/dev/nvidia[0-9]*") + glob.glob("/dev/nvhost-*")
    smi = shutil.which("nvidia-smi")
    tegra = Path("/etc/nv_tegra_release").exists()
    if devices or tegra:
        return Check("GPU", True, f"{'Jetson (L4T)' if tegra else 'NVIDIA'}; devices: {len(devices)}; "
                     f"nvidia-smi: {smi or 'absent'}", required=False)
    return Check("GPU", False, "no NVIDIA device found; CPU execution only", required=False)


def _serial_check() -> Check:
    ports = sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
    return Check("serial ports (servo bus)", bool(ports), ", ".join(ports) or "none (the simulated robot needs none)",
                 required=False)


def collect(config: Path) -> list[Check]:
    root = config.resolve().parent.parent
    optional: list[tuple[str, str, str]] = [
        ("TensorRT", "tensorrt", "optional accelerator"),
        ("PyCUDA", "pycuda.driver", "optional accelerator"),
    ]
    checks: list[Check] = [
        Check("Python", sys.version_info[:2] in ((3, 10), (3, 11), (3, 12)), sys.version.split()[0]),
        _ros_check(),
        _module_check("embodied_interfaces", "embodied_interfaces.action", True, "run scripts/setup.sh"),
        _module_check("embodied_ros nodes", "embodied_ros.servo_controller", True, "run scripts/setup.sh"),
        *_config_check(config),
        _dds_check(),
        _models_check(root),
        _providers_check(),
        _gpu_check(),
        *(_module_check(name, module, False, hint) for name, module, hint in optional),
        _serial_check(),
    ]
    return checks


def run_checks(config: Path, out: Callable[[str], None] = print) -> int:
    checks = collect(config)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok " if check.ok else ("MISSING" if check.required else "-- ")
        out(f"{mark:7} {check.name:<{width}}  {check.detail}")
    failed = [c.name for c in checks if c.required and not c.ok]
    out("all required parts present" if not failed else f"missing required parts: {', '.join(failed)}")
    return 1 if failed else 0
