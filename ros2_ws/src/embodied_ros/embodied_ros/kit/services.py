"""A service answered the way std_srvs/Trigger answers: ``success`` and a ``message``.

The work is a function of the request that returns the message, or raises: EmbodiedError,
KeyError or ValueError become ``success: false`` with the reason as the message (a refusal
the caller can read), anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embodied_ai.errors import EmbodiedError

REFUSALS = (EmbodiedError, KeyError, ValueError)


def reply(work: Callable[[Any], str]) -> Callable[[Any, Any], Any]:
    """A service callback: ``success`` and ``work(request)``'s message, or the reason it failed."""
    def serve(request: Any, response: Any) -> Any:
        try:
            response.success, response.message = True, work(request)
        except REFUSALS as exc:
            response.success, response.message = False, str(exc)
        return response
    return serve
