"""Service callbacks that answer refusals instead of failing.

``reply``: the way std_srvs/Trigger answers, ``success`` and a ``message``. The work is a
function of the request that returns the message, or raises: EmbodiedError, KeyError or
ValueError become ``success: false`` with the reason as the message (a refusal the caller can
read), anything else is a bug and propagates.

``answer``: for responses with ``success``, ``error_code`` and ``message`` (and ``problems``
when they have it): the work fills the response; an EmbodiedError becomes ``success: false``
with its code, its reason and every problem it lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embodied_ai.errors import EmbodiedError, InvalidRequest

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


def answer(work: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A service callback: ``work(request, response)`` fills the response, or its refusal does."""
    def serve(request: Any, response: Any) -> Any:
        try:
            response = work(request, response)
            response.success = True
        except EmbodiedError as exc:
            response.success, response.error_code, response.message = False, int(exc.code), str(exc)
            if isinstance(exc, InvalidRequest) and hasattr(response, "problems"):
                response.problems = list(exc.problems)
        return response
    return serve
