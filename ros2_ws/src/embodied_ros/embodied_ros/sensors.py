"""Sensors node: publishes the robot's sensors as standard messages, plus /diagnostics.

It reads the servo controller's hardware_state (the controller owns the hardware, as
ros2_control's controller manager does) and broadcasts, off the control loop's thread:
  force/<gripper_l|gripper_r>   geometry_msgs/WrenchStamped (grip force in wrench.force.z, N)
  temperature/<joint>           sensor_msgs/Temperature (motor, degrees C)
  imu                           sensor_msgs/Imu
  /diagnostics                  diagnostic_msgs/DiagnosticArray (at diagnostics_rate_hz and on
                                every change of level; STALE when hardware_state stops)
"""

from __future__ import annotations

import math
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.msg import HardwareState
from geometry_msgs.msg import WrenchStamped
from rclpy.node import Node
from sensor_msgs.msg import Imu, Temperature

from embodied_ai.diagnostics import Status, hardware_statuses, stale_status
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES
from embodied_ros.conversions import diagnostic_status_msg, hardware_view
from embodied_ros.kit.qos import SENSOR_DATA, STATE
from embodied_ros.kit.spin import spin_until_shutdown


class SensorsNode(Node):
    def __init__(self) -> None:
        super().__init__("sensors")
        self.declare_parameter("diagnostics_rate_hz", 1.0)
        self.declare_parameter("expected_loop_rate_hz", 200.0)
        self.declare_parameter("stale_after_s", 1.0)
        self._expected_rate = float(self.get_parameter("expected_loop_rate_hz").value)
        self._stale_after = float(self.get_parameter("stale_after_s").value)
        self._last_state: HardwareState | None = None
        self._last_received: float | None = None
        self._last_levels: dict[str, int] = {}
        self._forces = {name: self.create_publisher(WrenchStamped, f"force/{name}", SENSOR_DATA)
                        for name in FORCE_SENSOR_FRAMES}
        self._temperatures: dict[str, rclpy.publisher.Publisher] = {}
        self._imu = self.create_publisher(Imu, "imu", SENSOR_DATA)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_subscription(HardwareState, "hardware_state", self._on_state, STATE)
        self.create_timer(1.0 / float(self.get_parameter("diagnostics_rate_hz").value), self._publish_diagnostics)

    def _on_state(self, msg: HardwareState) -> None:
        self._last_state, self._last_received = msg, time.monotonic()
        for event in msg.events:
            self.get_logger().warning(f"safety event: {event}")
        for name, force in zip(msg.force_sensor_names, msg.forces):
            publisher = self._forces.get(name)
            if publisher is None:
                continue
            wrench = WrenchStamped()
            wrench.header.stamp = msg.header.stamp
            wrench.header.frame_id = FORCE_SENSOR_FRAMES[name]
            wrench.wrench.force.z = float(force)
            publisher.publish(wrench)
        for joint, temperature in zip(msg.joint_names, msg.temperatures):
            if math.isnan(temperature):
                continue
            publisher = self._temperatures.get(joint)
            if publisher is None:
                publisher = self._temperatures[joint] = self.create_publisher(
                    Temperature, f"temperature/{joint}", SENSOR_DATA)
            reading = Temperature(temperature=float(temperature), variance=0.0)
            reading.header.stamp = msg.header.stamp
            reading.header.frame_id = f"{joint}_link"
            publisher.publish(reading)
        if msg.imu_available:
            self._imu.publish(msg.imu)
        # Report a change of level (a fault, an e-stop) at once, not at the next period.
        levels = {s.name: int(s.level) for s in self._statuses()}
        if levels != self._last_levels or msg.events:
            self._publish_diagnostics()

    def _statuses(self) -> list[Status]:
        since = None if self._last_received is None else time.monotonic() - self._last_received
        if self._last_state is None or since is None or since > self._stale_after:
            return [stale_status(since)]
        return hardware_statuses(hardware_view(self._last_state), self._expected_rate)

    def _publish_diagnostics(self) -> None:
        statuses = self._statuses()
        self._last_levels = {s.name: int(s.level) for s in statuses}
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [diagnostic_status_msg(s) for s in statuses]
        self._diagnostics.publish(array)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    spin_until_shutdown(SensorsNode(), threads=1)


if __name__ == "__main__":
    main()
