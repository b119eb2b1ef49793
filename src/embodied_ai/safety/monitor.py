"""Per-joint fault tracking: motor over-temperature (with hysteresis) and latched bus faults."""

from __future__ import annotations

from embodied_ai.hardware.base import HardwareSnapshot
from embodied_ai.safety.config import TemperatureLimits


class FaultMonitor:
    """Turns hardware snapshots into the set of joints that must not move, each with a reason."""

    def __init__(self, temperature: TemperatureLimits) -> None:
        self._temperature = temperature
        self._hot: dict[str, str] = {}
        self._bus: dict[str, str] = {}

    def update(self, snapshot: HardwareSnapshot) -> set[str]:
        """Fold in one snapshot; returns the joints that became faulted by it."""
        before = set(self.faults)
        for joint, reading in snapshot.joints.items():
            if reading.temperature > self._temperature.limit_c:
                self._hot[joint] = (
                    f"over-temperature {reading.temperature:.1f} C > {self._temperature.limit_c:.1f} C"
                )
            elif joint in self._hot and reading.temperature < self._temperature.resume_c:
                del self._hot[joint]
        for joint, fault in snapshot.faults.items():
            detail = snapshot.fault_details.get(joint, "")
            self._bus.setdefault(joint, f"bus fault: {fault.value}" + (f" ({detail})" if detail else ""))
        return set(self.faults) - before

    @property
    def faults(self) -> dict[str, str]:
        """Joint -> reason for every joint that must hold still now."""
        return {**self._hot, **self._bus}

    def warnings(self, snapshot: HardwareSnapshot) -> dict[str, str]:
        return {
            joint: f"temperature {reading.temperature:.1f} C above {self._temperature.warn_c:.1f} C"
            for joint, reading in snapshot.joints.items()
            if self._temperature.warn_c < reading.temperature <= self._temperature.limit_c
        }

    def reset_bus_faults(self) -> None:
        """Bus faults latch until an operator reset (communication may be intermittent)."""
        self._bus.clear()
