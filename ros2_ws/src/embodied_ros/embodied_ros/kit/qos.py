"""QoS profiles shared by the nodes (architecture.md: sensor data best-effort, small depth;
commands, state and results reliable)."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

SENSOR_DATA = qos_profile_sensor_data
# Reliable like joint_state_broadcaster's, so robot_state_publisher and rviz2 match it.
STATE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
COMMANDS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
# Late joiners (rviz2) still get the one robot_description message.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Audio chunks (~100 ms each): reliable, since a lost chunk is a hole in a word; 10 s of queue.
AUDIO = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
