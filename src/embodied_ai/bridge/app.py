"""The bridge's FastAPI app: the Robot API under /v1, the WebSocket, Prometheus metrics,
OpenAI compatibility and the operator dashboard, all over the graph's ports (``bridge.ports``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

import psutil
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from embodied_ai import __version__
from embodied_ai.bridge.alerts import AlertLog
from embodied_ai.bridge.errors import install_error_handlers
from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.keys import ApiKeyStore
from embodied_ai.bridge.logins import Accounts
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.middleware import RateLimitHeaders, RequestTiming
from embodied_ai.bridge.ports import Ports
from embodied_ai.bridge.routes import (
    ai_llm,
    ai_vision,
    auth,
    clients,
    datasets,
    deployments,
    experts,
    hardware,
    inference,
    jobs,
    models,
    monitoring,
    multimodal,
    nlp,
    openai,
    operations,
    ops,
    rl_training,
    router,
    tasks,
    training,
    webhooks,
    websocket,
)
from embodied_ai.bridge.security import Security
from embodied_ai.bridge.settings import BridgeSettings
from embodied_ai.bridge.uploads import MULTIPART_OVERHEAD_BYTES, BodySizeLimit


def create_app(ports: Ports, settings: BridgeSettings, keys: ApiKeyStore | None = None) -> FastAPI:
    keys = keys or ApiKeyStore.in_state_dir(settings.state_dir)
    hub = EventHub()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        unsubscribe = ports.status.subscribe(hub.publish)
        psutil.cpu_percent(interval=None)  # the first reading only starts psutil's interval
        app.state.metrics.system.start()   # GET /v1/metrics' CPU and memory samples
        try:
            yield
        finally:
            app.state.metrics.system.stop()
            unsubscribe()

    app = FastAPI(
        title="Embodied AI runtime API", version=__version__, lifespan=lifespan,
        description="The Robot API over the live ROS 2 graph. Every /v1 answer is an envelope "
                    "`{success, data, error, timestamp}`; errors carry Robot API codes (1000-4001) or, for "
                    "protocol errors, the HTTP status.",
    )
    app.state.ports, app.state.settings, app.state.hub = ports, settings, hub
    app.state.security = Security(keys, settings.anonymous_rate_limit)
    app.state.accounts = Accounts(app.state.security)  # logins, refresh tokens, client credentials
    app.state.metrics = BridgeMetrics(ports)
    app.state.alerts = AlertLog()   # /v1/ops/status: since when each alert holds
    app.state.started_at, app.state.started_at_wall = time.monotonic(), time.time()
    install_error_handlers(app)

    for module in (experts, datasets, training, rl_training, deployments, jobs, webhooks, operations, inference, router,
                   multimodal, hardware, monitoring, openai, nlp):
        app.include_router(module.router)
    app.include_router(models.router)   # GET /v1/models: OpenAI's list too
    app.include_router(monitoring.prometheus)
    app.include_router(websocket.router)
    app.include_router(tasks.router)    # seed 003's /v1/tasks: training tasks
    app.include_router(clients.router)  # seed 003's /v1/clients and /v1/metrics/tasks/{id}: the cluster
    app.include_router(ai_llm.router)   # seed 002's /v1/ai/llm: the inference engine
    app.include_router(ai_vision.router)   # seed 002's /v1/ai/vision: analyze, classify
    app.include_router(ops.router)      # /v1/ops/status
    app.include_router(auth.router)  # /v1/auth/login, refresh, logout
    app.include_router(auth.oauth)   # /oauth/token, /v1/oauth/token
    if settings.dashboard:
        dashboard = files("embodied_ai.bridge") / "dashboard"
        app.mount("/dashboard", StaticFiles(directory=str(dashboard), html=True), name="dashboard")

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/dashboard/")

    # Outermost last: the body limit sees every byte first; CORS only when origins are named.
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(RequestTiming, metrics=app.state.metrics)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"], allow_headers=["Authorization",
                                                                                          "Content-Type"])
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
    return app
