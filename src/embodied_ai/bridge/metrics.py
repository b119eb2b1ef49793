"""What the bridge measures about itself and the robot, for /metrics (Prometheus) and
/v1/monitoring/metrics."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from embodied_ai.bridge.ports import Ports
from embodied_ai.bridge.system_samples import SystemSampler
from embodied_ai.errors import GraphUnavailable


class InferenceLog:
    """Inference requests of the last minute, for the Robot API's requests_per_minute and avg latency."""

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def record(self, latency_ms: float) -> None:
        with self._lock:
            self._samples.append((time.monotonic(), latency_ms))

    def summary(self) -> tuple[float, float | None]:
        """(requests in the last minute, their mean latency in ms or None)."""
        cutoff = time.monotonic() - self.WINDOW_S
        with self._lock:
            while self._samples and self._samples[0][0] < cutoff:
                self._samples.popleft()
            latencies = [latency for _, latency in self._samples]
        return float(len(latencies)), (sum(latencies) / len(latencies) if latencies else None)


class RobotCollector(Collector):
    """Reads the bridge's cache of subscribed state at scrape time (no extra ROS traffic)."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("embodied_component_up", "1 when the graph component answers", labels=["component"])
        for component, state in self._ports.status.components().items():
            up.add_metric([component], 1.0 if state == "ok" else 0.0)
        yield up
        try:
            sensors = self._ports.hardware.sensors()
        except GraphUnavailable:
            return
        temperature = GaugeMetricFamily("embodied_motor_temperature_celsius", "motor temperature", labels=["joint"])
        position = GaugeMetricFamily("embodied_joint_position_radians", "measured joint position", labels=["joint"])
        force = GaugeMetricFamily("embodied_force_newtons", "force sensor reading", labels=["sensor"])
        for joint, value in sensors.temperatures.items():
            if math.isfinite(value):
                temperature.add_metric([joint], value)
        for joint, value in sensors.joint_positions.items():
            position.add_metric([joint], value)
        for sensor, value in sensors.forces.items():
            force.add_metric([sensor], value)
        yield from (temperature, position, force)
        yield GaugeMetricFamily("embodied_emergency_stop_latched", "1 while the e-stop is latched",
                                value=1.0 if sensors.emergency_stop else 0.0)
        yield GaugeMetricFamily("embodied_control_loop_hz", "measured servo control loop rate",
                                value=sensors.loop_rate_hz)


class BridgeMetrics:
    def __init__(self, ports: Ports) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "embodied_bridge_request_seconds", "HTTP request duration by route template",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.generated_tokens = Counter("embodied_bridge_generated_tokens", "tokens generated through the bridge",
                                        ["expert"], registry=self.registry)
        self.registry.register(RobotCollector(ports))
        self.inference = InferenceLog()
        self.system = SystemSampler()   # sampling from the app's start (its lifespan) to its end
