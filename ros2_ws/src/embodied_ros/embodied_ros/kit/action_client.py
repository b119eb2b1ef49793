"""An action client that may send requests from a thread other than the executor's.

rclpy 7.1's ActionClient sends a goal, cancel or result request first and records the request's
future afterwards. When an executor thread takes the response in between, ``execute`` finds no
future for it, logs "Ignoring unexpected ... response" and drops it: the caller then waits for
a response that never comes. Every node here sends from worker threads (the commander's command
worker, the experts' handlers, the bridge's event loop), so requests and the handling of
responses share one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.action import ActionClient

_RESPONSES = ("goal", "cancel", "result")


class ThreadSafeActionClient(ActionClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._requests = threading.RLock()   # re-entrant: a done callback may send the next request

    def send_goal_async(self, *args: Any, **kwargs: Any) -> Any:
        with self._requests:
            return super().send_goal_async(*args, **kwargs)

    def _cancel_goal_async(self, goal_handle: Any) -> Any:
        with self._requests:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle: Any) -> Any:
        with self._requests:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data: dict[str, Any]) -> None:
        responses = {key: taken_data.pop(key) for key in _RESPONSES if key in taken_data}
        if responses:
            # The base class only looks futures up and sets their results for these (no await
            # inside), so the lock is never held across a suspension.
            with self._requests:
                await super().execute(responses)
        if taken_data:   # feedback and status: user callbacks, outside the lock
            await super().execute(taken_data)
