"""The Robot API's response envelope and error body, shared by every resource."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
Details = str | list[object] | dict[str, object] | None  # what an error adds to its message


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorInfo(BaseModel):
    """``code`` is a Robot API code (1000-4001) or, for protocol errors (bad request, auth, rate
    limit), the HTTP status, as in the Robot API's 429 example."""

    code: int = Field(examples=[1000])
    message: str = Field(examples=["Expert not found"])
    details: Details = None
    retry_after_seconds: int | None = None
    error_code: str | None = Field(default=None, examples=["NOT_FOUND"], description=(
        "the string code of seeds 002 / 004 (VALIDATION_ERROR, CONFIG_ERROR, DATASET_ERROR, NOT_FOUND, "
        "CONFLICT, TRAINING_ERROR, ...); also in `details` when that is an object"))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Envelope(BaseModel, Generic[T]):
    """``{success, data, error, timestamp}`` around every /v1 answer (the Robot API's response format)."""

    success: bool
    data: T | None = None
    error: ErrorInfo | None = None
    timestamp: datetime = Field(default_factory=utc_now)


def ok(data: T) -> Envelope[T]:
    return Envelope[T](success=True, data=data)


class Pagination(BaseModel):
    """A list's page (``X-Total-Count`` and ``Link: rel="next"`` say the same in headers: ``routes.paging``)."""

    limit: int
    offset: int
    total: int
    has_more: bool


class Message(BaseModel):
    """Data of operations that only report what happened."""

    status: str
    message: str
