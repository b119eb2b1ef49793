"""Pure ASGI middlewares (they pass streaming responses through untouched, unlike
BaseHTTPMiddleware): rate-limit headers on every answer, and request timing for Prometheus."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.security import RATE_LIMIT_HEADERS_STATE


class RateLimitHeaders:
    """Adds the X-RateLimit-* headers that ``authorize`` left in the request state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get(RATE_LIMIT_HEADERS_STATE) or {}
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    message["headers"] = list(message.get("headers", [])) + [
                        (k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestTiming:
    """Observes each HTTP request's duration, labelled by route template (not raw path, which
    would let a client create unbounded label sets)."""

    def __init__(self, app: ASGIApp, metrics: BridgeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
