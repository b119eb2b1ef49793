"""Seed error codes to HTTP statuses, and the handlers that answer every error in the envelope.

Robot API codes (1000-4001) come from the graph or from the bridge's own checks; protocol errors
(a malformed request, a missing key, a rate limit, an unknown route) carry their HTTP status
as the code, as the Robot API's 429 example does.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from embodied_ai.bridge.schemas.common import Details, Envelope, ErrorInfo
from embodied_ai.errors import EmbodiedError, ErrorCode, GraphUnavailable, InvalidRequest

log = logging.getLogger(__name__)

# Why each status: a refused or impossible request is the client's to change (4xx); a missing
# capability is temporary (503); a deadline is a gateway timeout (504).
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.EXPERT_NOT_FOUND: 404,
    ErrorCode.EXPERT_NOT_READY: 503,
    ErrorCode.EXPERT_CREATION_FAILED: 422,
    ErrorCode.TRAINING_FAILED: 422,
    ErrorCode.DATASET_INVALID: 400,
    ErrorCode.INFERENCE_FAILED: 422,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.HARDWARE_ERROR: 409,
    ErrorCode.SAFETY_VIOLATION: 422,
}


# Seeds 002 / 004 name errors with strings; each answer carries the one its code means (error.error_code,
# and inside details when that is an object). Robot API codes first, then HTTP statuses.
SEED_CODES: dict[int, str] = {
    ErrorCode.DATASET_INVALID: "DATASET_ERROR", ErrorCode.TRAINING_FAILED: "TRAINING_ERROR",
    ErrorCode.EXPERT_NOT_FOUND: "NOT_FOUND", ErrorCode.EXPERT_NOT_READY: "MODEL_NOT_LOADED",
    ErrorCode.EXPERT_CREATION_FAILED: "VALIDATION_ERROR", ErrorCode.INFERENCE_FAILED: "INFERENCE_ERROR",
    ErrorCode.TIMEOUT: "TIMEOUT", ErrorCode.HARDWARE_ERROR: "HARDWARE_ERROR",
    ErrorCode.SAFETY_VIOLATION: "SAFETY_VIOLATION",
    400: "VALIDATION_ERROR", 401: "AUTHENTICATION_REQUIRED", 403: "INSUFFICIENT_PERMISSIONS", 404: "NOT_FOUND",
    409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 429: "RATE_LIMIT_EXCEEDED", 500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE", 504: "TIMEOUT",
}


def seed_code(code: int, status: int) -> str:
    return SEED_CODES.get(code) or SEED_CODES.get(status) or HTTPStatus(status).name


class ApiError(Exception):
    """A protocol-level error (bad request, payload too large, ...), answered in the envelope."""

    def __init__(self, status: int, message: str, details: Details = None,
                 headers: dict[str, str] | None = None, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details
        self.headers = headers or {}
        self.retry_after_seconds = retry_after_seconds


def http_status(error: EmbodiedError) -> int:
    if isinstance(error, GraphUnavailable):
        return 503
    return HTTP_STATUS.get(error.code, 500)


def error_body(code: int, message: str, details: Details = None, retry_after_seconds: int | None = None,
               error_code: str | None = None) -> dict:
    if isinstance(details, dict) and error_code:
        details = {**details, "error_code": error_code}
    info = ErrorInfo(code=code, message=message, details=details, retry_after_seconds=retry_after_seconds,
                     error_code=error_code)
    return jsonable_encoder(Envelope[None](success=False, error=info), exclude_none=False)


def error_response(status: int, code: int, message: str, details: Details = None,
                   headers: dict[str, str] | None = None, retry_after_seconds: int | None = None,
                   error_code: str | None = None) -> JSONResponse:
    body = error_body(code, message, details, retry_after_seconds, error_code or seed_code(code, status))
    return JSONResponse(body, status_code=status, headers=headers)


def describe(code: ErrorCode) -> str:
    """The Robot API's wording for a code: EXPERT_NOT_FOUND -> "Expert not found"."""
    return code.name.replace("_", " ").capitalize()


# A 503 means the capability's node is starting, restarting or absent: a client may try again
# after this long (a node that restarts is back in a few seconds; models load in under ten).
RETRY_AFTER_UNAVAILABLE_S = 5


def embodied_error_response(error: EmbodiedError) -> JSONResponse:
    status = http_status(error)
    if status == 503:
        return error_response(status, int(error.code), describe(error.code), error.message,
                              {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)}, RETRY_AFTER_UNAVAILABLE_S)
    if isinstance(error, InvalidRequest) and error.problems:
        # Every problem at once (seed 004's metadata.errors), so a client fixes them in one go.
        return error_response(status, int(error.code), describe(error.code),
                              {"reason": error.message, "problems": list(error.problems)},
                              error_code=error.seed_code)
    return error_response(status, int(error.code), describe(error.code), error.message, error_code=error.seed_code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EmbodiedError)
    async def _embodied(_: Request, exc: EmbodiedError) -> JSONResponse:
        return embodied_error_response(exc)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.status, exc.message, exc.details, exc.headers, exc.retry_after_seconds)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details: list[object] = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                 for e in exc.errors()]
        return error_response(400, 400, "Bad request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
        detail = exc.detail if exc.detail != phrase else None
        return error_response(exc.status_code, exc.status_code, phrase, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug in the bridge: say so in the envelope, keep the traceback in the node's log.
        log.exception("unhandled error in the REST bridge")
        return error_response(500, 500, "Internal server error", type(exc).__name__)


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    return {status: {"model": Envelope[None], "description": HTTPStatus(status).phrase} for status in statuses}
