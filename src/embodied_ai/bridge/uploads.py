"""Uploaded files and request paths: size limits, content checks, and paths kept inside the
state directory. Nothing a request sends reaches the filesystem unchecked."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import filetype
from fastapi import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embodied_ai.bridge.errors import ApiError, error_response

IMAGE_TYPES = {"image/png", "image/jpeg"}
AUDIO_TYPES = {"audio/x-wav", "audio/mpeg", "audio/ogg", "audio/x-flac"}
# multipart boundaries and form fields on top of the largest allowed file
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimit:
    """Refuses a request body past ``limit`` bytes with 413, whether or not it declares a
    Content-Length, before the multipart parser spools it anywhere."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            response = error_response(413, 413, "Payload Too Large", f"request body larger than {self.limit} bytes")
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the handler's body parsing, answered by the error handlers.
                    raise HTTPException(413, f"request body larger than {self.limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def read_upload(upload: UploadFile, allowed_types: set[str], what: str, limit: int) -> bytes:
    """The bytes of an uploaded file, after checking its size and that its content (not its
    name or declared type, which the client chooses) is one of ``allowed_types``."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"{what} larger than {limit} bytes")
    if not data:
        raise ApiError(400, f"{what} is empty")
    kind = filetype.guess_mime(data[:261])
    if kind not in allowed_types:
        raise ApiError(400, f"{what} must be one of {', '.join(sorted(allowed_types))}",
                       f"content looks like {kind or 'nothing known'}")
    return data


def path_inside(base: Path, requested: str) -> Path:
    """``requested`` (relative, POSIX) resolved inside ``base``; anything that would leave it
    (absolute paths, '..', symlinks pointing out) is a 400."""
    relative = PurePosixPath(requested)
    if relative.is_absolute() or ".." in relative.parts or "\\" in requested or "\x00" in requested:
        raise ApiError(400, "path must be relative to the datasets folder and stay inside it", requested)
    base = base.resolve()
    resolved = (base / relative).resolve()
    if not resolved.is_relative_to(base):
        raise ApiError(400, "path must stay inside the datasets folder", requested)
    return resolved
