"""Dependencies shared by the routers: the graph's ports and the app's services."""

from __future__ import annotations

from fastapi import Request

from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports import Ports
from embodied_ai.bridge.ports.cluster import ClusterPort
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.datasets import DatasetsPort
from embodied_ai.bridge.ports.experts import ExpertsPort
from embodied_ai.bridge.ports.hardware import HardwarePort
from embodied_ai.bridge.ports.inference import InferencePort
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.ports.media import MediaPort
from embodied_ai.bridge.ports.models import ModelsPort
from embodied_ai.bridge.ports.operations import OperationsPort
from embodied_ai.bridge.ports.webhooks import WebhooksPort
from embodied_ai.bridge.settings import BridgeSettings

# The Robot API's base URL. Routers carry it in their own prefix (not include_router's) so that a
# route's template, which /metrics labels requests by, is the full path.
API_PREFIX = "/v1"


def ports(request: Request) -> Ports:
    return request.app.state.ports


def hardware(request: Request) -> HardwarePort:
    return ports(request).hardware


def media(request: Request) -> MediaPort:
    return ports(request).media


def inference(request: Request) -> InferencePort:
    return ports(request).inference


def experts(request: Request) -> ExpertsPort:
    return ports(request).experts


def jobs(request: Request) -> JobsPort:
    return ports(request).jobs


def cluster(request: Request) -> ClusterPort:
    return ports(request).cluster


def webhooks(request: Request) -> WebhooksPort:
    return ports(request).webhooks


def operations(request: Request) -> OperationsPort:
    return ports(request).operations


def datasets(request: Request) -> DatasetsPort:
    return ports(request).datasets


def models(request: Request) -> ModelsPort:
    return ports(request).models


def status(request: Request) -> GraphStatus:
    return ports(request).status


def settings(request: Request) -> BridgeSettings:
    return request.app.state.settings


def metrics(request: Request) -> BridgeMetrics:
    return request.app.state.metrics


def hub(request: Request) -> EventHub:
    return request.app.state.hub
