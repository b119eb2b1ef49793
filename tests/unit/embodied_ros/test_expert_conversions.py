"""The experts' ROS messages from the library's types: router statistics (the one place they
are converted) and commands."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from embodied_interfaces.action import HandleCommand

from embodied_ai.experts.router import ExpertStatistics, RouterIssue, RouterStatistics
from embodied_ros.expert_conversions import command_from_goal, router_statistics_msg


def test_router_statistics() -> None:
    stats = RouterStatistics(
        stats=[ExpertStatistics("robot_control", 4, 0.91, None, 0), ExpertStatistics("math", 0, None, 0.5, 2)],
        issues=[RouterIssue("unused_expert", "math", "add examples", "expert 'math' never selected in 4 requests")],
        total_requests=4, fallback_rate=0.25, gate_version=1)
    msg = router_statistics_msg(stats, Time(sec=12))
    assert (msg.header.stamp.sec, msg.total_requests, msg.experts, list(msg.selections)) == (
        12, 4, ["robot_control", "math"], [4, 0])
    assert math.isclose(msg.fallback_rate, 0.25) and math.isclose(msg.average_confidence[0], 0.91, rel_tol=1e-6)
    assert math.isnan(msg.average_confidence[1]) and math.isnan(msg.feedback_accuracy[0])  # no value yet
    assert msg.issues == ["expert 'math' never selected in 4 requests"]


def test_a_typed_command_is_normalised_when_the_goal_is_not() -> None:
    command = command_from_goal(HandleCommand.Goal(text="Turn your head left by twenty degrees"))
    assert (command.normalized_text, command.source) == ("turn your head left by 20 degrees", "text")
    given = command_from_goal(HandleCommand.Goal(text="Hi", normalized_text="hi", source="speech"))
    assert (given.normalized_text, given.source) == ("hi", "speech")
