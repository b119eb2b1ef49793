"""The experts' ROS messages from the library's types: router statistics (the one place they
are converted), training goals, progress and status, commands."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from embodied_interfaces.action import HandleCommand, TrainExpert
from embodied_interfaces.srv import GetTrainingStatus

from embodied_ai.experts.jobs import TrainingGoal
from embodied_ai.experts.registry import JobRecord
from embodied_ai.experts.router import ExpertStatistics, RouterIssue, RouterStatistics
from embodied_ai.experts.training import TrainingStatus
from embodied_ros.expert_conversions import (
    command_from_goal,
    fill_training_status,
    router_statistics_msg,
    training_feedback_msg,
    training_goal,
)


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


def test_a_train_expert_goal_is_a_training_goal() -> None:
    goal = TrainExpert.Goal(expert="tiny", dataset_id=3, max_steps=20, use_lora=False, d_model=64, n_layers=2,
                            n_heads=2)
    assert training_goal(goal) == TrainingGoal("tiny", dataset_id=3, max_steps=20, use_lora=False, d_model=64,
                                               n_layers=2, n_heads=2)
    assert training_goal(TrainExpert.Goal(expert="x")).config().use_lora is False  # as the message says


def test_progress_and_status_say_nan_for_no_value_yet() -> None:
    status = TrainingStatus(job_id="tiny-1", expert="tiny", status="running", current_step=2, total_steps=20,
                            train_loss=[3.5], recent_logs=["step 2"])
    feedback = training_feedback_msg(7, status)
    assert (feedback.job_id, feedback.status, feedback.current_step, feedback.log) == (7, "running", 2, "step 2")
    assert math.isnan(feedback.loss) and math.isnan(feedback.eta_seconds)
    record = JobRecord(id=7, job_key="tiny-1", expert_id=1, dataset_id=3, kind="scratch", version=0, created_at="")
    response = fill_training_status(GetTrainingStatus.Response(), record, status)
    assert (response.expert, response.status, list(response.train_loss), response.version) == ("tiny", "running",
                                                                                              [3.5], 0)
    assert math.isnan(response.best_loss) and not response.checkpoint_saved


def test_a_typed_command_is_normalised_when_the_goal_is_not() -> None:
    command = command_from_goal(HandleCommand.Goal(text="Turn your head left by twenty degrees"))
    assert (command.normalized_text, command.source) == ("turn your head left by 20 degrees", "text")
    given = command_from_goal(HandleCommand.Goal(text="Hi", normalized_text="hi", source="speech"))
    assert (given.normalized_text, given.source) == ("hi", "speech")
