"""The newest message of a fast topic, taken on demand: the newest one wins, its age grows when
the publisher falls silent, and the reader is a hidden node that nothing spins."""

from __future__ import annotations

import time

import rclpy
from rclpy.context import Context
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Int32

from embodied_ros.kit.latest import LatestOnDemand

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def wait_matched(publisher, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while publisher.get_subscription_count() == 0:
        assert time.monotonic() < deadline, "the reader never matched the publisher"
        time.sleep(0.02)


def test_take_gives_the_newest_message_and_its_age(context: Context) -> None:
    node = rclpy.create_node("latest_owner", context=context, start_parameter_services=False)
    latest = LatestOnDemand(node, Int32, "counter")
    assert latest.take() == (None, float("inf"))
    publisher = node.create_publisher(Int32, "counter", RELIABLE)
    wait_matched(publisher)
    for value in range(5):
        publisher.publish(Int32(data=value))
    deadline = time.monotonic() + 5
    while (taken := latest.take())[0] is None or taken[0].data != 4:
        assert time.monotonic() < deadline, f"the newest message never arrived: {taken}"
        time.sleep(0.01)
    assert taken[1] < 1.0
    time.sleep(0.3)   # nothing new: the same message, older
    again = latest.take()
    assert again[0].data == 4 and again[1] >= 0.3
    latest.destroy()
    node.destroy_node()


def test_the_reader_node_is_hidden_and_follows_the_parents_namespace(context: Context) -> None:
    node = rclpy.create_node("latest_owner", namespace="robot2", context=context, start_parameter_services=False)
    latest = LatestOnDemand(node, Int32, "joint_states")
    names = {name for name, _ in node.get_node_names_and_namespaces()}
    reader = next(name for name in names if name.startswith("_latest_owner"))
    assert reader.startswith("_")   # hidden from `ros2 node list`
    deadline = time.monotonic() + 5
    while not node.get_subscriptions_info_by_topic("/robot2/joint_states"):
        assert time.monotonic() < deadline, "the reader did not subscribe in the parent's namespace"
        time.sleep(0.02)
    latest.destroy()
    node.destroy_node()


def test_users_of_one_topic_in_a_process_share_one_reader(context: Context) -> None:
    left = rclpy.create_node("left_owner", context=context, start_parameter_services=False)
    right = rclpy.create_node("right_owner", context=context, start_parameter_services=False)
    first, second = LatestOnDemand(left, Int32, "shared"), LatestOnDemand(right, Int32, "shared")
    assert len(left.get_subscriptions_info_by_topic("/shared")) <= 1
    publisher = left.create_publisher(Int32, "shared", RELIABLE)
    wait_matched(publisher)
    assert publisher.get_subscription_count() == 1
    publisher.publish(Int32(data=7))
    deadline = time.monotonic() + 5
    while first.take()[0] is None:
        assert time.monotonic() < deadline, "the message never arrived"
        time.sleep(0.01)
    assert second.take()[0].data == 7   # taken by the first user, still the newest for the second
    first.destroy()
    publisher.publish(Int32(data=8))
    deadline = time.monotonic() + 5
    while second.take()[0].data != 8:
        assert time.monotonic() < deadline, "the reader went away with its first user"
        time.sleep(0.01)
    second.destroy()
    deadline = time.monotonic() + 5
    while publisher.get_subscription_count() != 0:
        assert time.monotonic() < deadline, "the last user's destroy left the reader behind"
        time.sleep(0.02)
    left.destroy_node()
    right.destroy_node()
