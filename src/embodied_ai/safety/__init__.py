"""The safety contract: limits from the URDF, parameters from launch/safety.yaml.

Each limiter is a small pure object with its own tests; the servo controller composes
them and nothing upstream of it is trusted.
"""

from embodied_ai.safety.config import SafetyConfig, load_safety_config
from embodied_ai.safety.estop import EmergencyStop
from embodied_ai.safety.gate import SetpointGate
from embodied_ai.safety.limits import validate_duration, validate_targets
from embodied_ai.safety.monitor import FaultMonitor
from embodied_ai.safety.watchdog import Watchdog

__all__ = [
    "EmergencyStop",
    "FaultMonitor",
    "SafetyConfig",
    "SetpointGate",
    "Watchdog",
    "load_safety_config",
    "validate_duration",
    "validate_targets",
]
