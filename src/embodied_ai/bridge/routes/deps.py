"""Dependencies shared by the routers: the graph port and the app's services."""

from __future__ import annotations

from fastapi import Request

from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.port import RobotGraph
from embodied_ai.bridge.settings import BridgeSettings

# Seed 000's base URL. Routers carry it in their own prefix (not include_router's) so that a
# route's template, which /metrics labels requests by, is the full path.
API_PREFIX = "/v1"


def graph(request: Request) -> RobotGraph:
    return request.app.state.graph


def settings(request: Request) -> BridgeSettings:
    return request.app.state.settings


def metrics(request: Request) -> BridgeMetrics:
    return request.app.state.metrics


def hub(request: Request) -> EventHub:
    return request.app.state.hub
