"""Error codes of the Robot API (the HTTP API the REST bridge serves, docs/robot-api.md) and the
exceptions that carry them. ROS results carry the same numbers."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class ErrorCode(IntEnum):
    """The Robot API's error table; ROS results and REST envelopes carry these numbers."""

    OK = 0
    # Protocol codes (the HTTP status as the code), which model operations also raise from the
    # core: seed 004's VALIDATION_ERROR and CONFIG_ERROR are 400, NOT_FOUND is 404.
    BAD_REQUEST = 400
    NOT_FOUND = 404
    CONFLICT = 409
    SERVICE_UNAVAILABLE = 503   # a service the request needs cannot be reached now (e.g. the Ray cluster)
    EXPERT_NOT_FOUND = 1000
    EXPERT_NOT_READY = 1001
    EXPERT_CREATION_FAILED = 1002
    TRAINING_FAILED = 2000
    DATASET_INVALID = 2001
    INFERENCE_FAILED = 3000
    TIMEOUT = 3001
    HARDWARE_ERROR = 4000
    SAFETY_VIOLATION = 4001


class EmbodiedError(Exception):
    """An error with an error code of the Robot API and a human-readable reason. ``seed_code`` is the
    string code of seeds 002 / 004 when the numeric code alone does not say it (a pipeline's
    CONFIG_ERROR is a 400 like any other bad request); None: the REST bridge derives it."""

    code: ErrorCode = ErrorCode.HARDWARE_ERROR
    seed_code: str | None = None

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class SafetyViolation(EmbodiedError):
    """A command was refused because obeying it would break the safety contract."""

    code = ErrorCode.SAFETY_VIOLATION


class HardwareError(EmbodiedError):
    """The hardware could not do what was asked (bus fault, device missing, ...)."""

    code = ErrorCode.HARDWARE_ERROR


class InvalidRequest(EmbodiedError):
    """Input that breaks the contract (a malformed pipeline, a refused webhook URL); ``problems``
    lists every problem found, not only the first."""

    code = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, problems: list[str] | None = None, code: ErrorCode | None = None) -> None:
        super().__init__(message, code)
        self.problems = list(problems or [])


class NotFound(EmbodiedError):
    """A job, model, dataset or webhook that does not exist."""

    code = ErrorCode.NOT_FOUND


class Conflict(EmbodiedError):
    """A request the resource's state does not allow now (cancelling a finished job)."""

    code = ErrorCode.CONFLICT


class GraphUnavailable(EmbodiedError):
    """The ROS endpoint that would serve a request is not in the running graph.

    ``code`` is the code of the capability (the REST bridge answers HTTP 503 with it, never
    made-up data); ``endpoint`` names the missing action, service or topic.
    """

    def __init__(self, endpoint: str, code: ErrorCode, why: str) -> None:
        super().__init__(f"{why} ('{endpoint}' is not available in the running ROS graph)", code)
        self.endpoint = endpoint


class GraphTimeout(EmbodiedError):
    """The graph accepted a request but did not answer in time."""

    code = ErrorCode.TIMEOUT


def api_error_code(value: int, default: ErrorCode) -> ErrorCode:
    """A code from a ROS result as an ErrorCode (``default`` for 0 or a number not in the table)."""
    try:
        code = ErrorCode(value)
    except ValueError:
        return default
    return default if code is ErrorCode.OK else code


def validation_problems(error: ValidationError, root: str) -> list[str]:
    """Each of pydantic's complaints as ``field.path: message`` (``root`` for the whole value): the
    ``problems`` of an InvalidRequest."""
    return [f"{'.'.join(str(part) for part in item['loc']) or root}: "
            f"{str(item['msg']).removeprefix('Value error, ')}" for item in error.errors()]
