"""Fixtures of the ROS-side unit tests: nodes in this process, on a private rclpy context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import rclpy
from rclpy.context import Context


@pytest.fixture
def context() -> Iterator[Context]:
    """An rclpy context of its own, on the run's ROS_DOMAIN_ID (.ci/run sets one) and, with
    ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, seen by nothing beyond this machine."""
    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.try_shutdown(context=context)   # a test may have shut it down already
