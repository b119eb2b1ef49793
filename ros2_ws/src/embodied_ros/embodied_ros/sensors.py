"""Sensors node: publishes the robot's sensors as standard messages, plus /diagnostics.

It reads the servo controller's hardware_state (the controller owns the hardware, as
ros2_control's controller manager does) and broadcasts, off the control loop's thread:
  force/<gripper_l|gripper_r>   geometry_msgs/WrenchStamped (grip force in wrench.force.z, N)
  temperature/<joint>           sensor_msgs/Temperature (motor, degrees C)
  imu                           sensor_msgs/Imu
  /diagnostics                  diagnostic_msgs/DiagnosticArray (at diagnostics_rate_hz and on
                                every change of level; STALE when hardware_state stops)
Logic and parameters: embodied_ai.hardware.sensors (HardwareStateWatch, SensorsConfig).
"""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from embodied_interfaces.msg import HardwareState
from geometry_msgs.msg import WrenchStamped
from rclpy.node import Node
from rclpy.publisher import Publisher
from sensor_msgs.msg import Imu, Temperature

from embodied_ai.hardware.sensors import HardwareStateWatch, SensorsConfig, force_readings, temperature_readings
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES
from embodied_ros.conversions import diagnostic_array_msg, hardware_view, temperature_msg, wrench_msg
from embodied_ros.kit.parameters import declare_parameters
from embodied_ros.kit.qos import SENSOR_DATA, STATE
from embodied_ros.kit.spin import Component, run_standalone


class SensorsNode(Node):
    def __init__(self, **node_options: Any) -> None:
        super().__init__("sensors", **node_options)
        config = declare_parameters(self, SensorsConfig)
        self._watch = HardwareStateWatch(config.expected_loop_rate_hz, config.stale_after_s)
        self._forces = {name: self.create_publisher(WrenchStamped, f"force/{name}", SENSOR_DATA)
                        for name in FORCE_SENSOR_FRAMES}
        self._temperatures: dict[str, Publisher] = {}   # one per joint the back end reports, made on first sight
        self._imu = self.create_publisher(Imu, "imu", SENSOR_DATA)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_subscription(HardwareState, "hardware_state", self._on_state, STATE)
        self.create_timer(1.0 / config.diagnostics_rate_hz, self._publish_diagnostics)

    def _on_state(self, msg: HardwareState) -> None:
        state, stamp = hardware_view(msg), msg.header.stamp
        for event in msg.events:
            self.get_logger().warning(f"safety event: {event}")
        for sensor, force in force_readings(state).items():
            self._forces[sensor].publish(wrench_msg(sensor, force, stamp))
        for joint, temperature in temperature_readings(state).items():
            if joint not in self._temperatures:
                self._temperatures[joint] = self.create_publisher(Temperature, f"temperature/{joint}", SENSOR_DATA)
            self._temperatures[joint].publish(temperature_msg(joint, temperature, stamp))
        if msg.imu_available:
            self._imu.publish(msg.imu)
        if self._watch.update(state, has_events=bool(msg.events)):
            self._publish_diagnostics()   # a fault or an e-stop goes out at once, not at the next period

    def _publish_diagnostics(self) -> None:
        self._diagnostics.publish(diagnostic_array_msg(self._watch.report(), self.get_clock().now().to_msg()))


def component(**node_options: Any) -> Component:
    return Component(SensorsNode(**node_options))


def main(args: list[str] | None = None) -> None:
    run_standalone(component, args)


if __name__ == "__main__":
    main()
