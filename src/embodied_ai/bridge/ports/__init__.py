"""The ports through which the REST bridge reaches the robot graph, one per capability.

The HTTP app (``embodied_ai.bridge``) only ever talks to these protocols, with their own
dataclasses; its routes convert them to and from the HTTP contract (``bridge.schemas``). The
bridge node implements them with rclpy clients and a cache of subscribed topics
(``embodied_ros.bridge``). This is rosbridge_suite's split of protocol core and transport: the
core holds no robot logic and imports no ROS, so it is tested against in-memory fakes and could
sit on another transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embodied_ai.bridge.ports.cluster import ClusterPort, NoCluster
from embodied_ai.bridge.ports.common import GraphStatus
from embodied_ai.bridge.ports.datasets import DatasetsPort
from embodied_ai.bridge.ports.experts import ExpertsPort
from embodied_ai.bridge.ports.hardware import HardwarePort
from embodied_ai.bridge.ports.inference import InferencePort
from embodied_ai.bridge.ports.jobs import JobsPort
from embodied_ai.bridge.ports.media import MediaPort
from embodied_ai.bridge.ports.models import ModelsPort
from embodied_ai.bridge.ports.operations import OperationsPort
from embodied_ai.bridge.ports.services import NoLauncher, ServicesPort
from embodied_ai.bridge.ports.webhooks import WebhooksPort


@dataclass(frozen=True)
class Ports:
    """Everything the app needs from the graph, one object per capability."""

    hardware: HardwarePort  # servo controller, sensors, cameras
    media: MediaPort  # perception, speech, the commander
    inference: InferencePort  # generate, the router
    experts: ExpertsPort  # the registry, datasets, training jobs
    jobs: JobsPort  # the job system: jobs and their logs
    webhooks: WebhooksPort  # webhooks and their deliveries (served by the jobs node)
    operations: OperationsPort  # every node's logs (kept by the jobs node)
    datasets: DatasetsPort  # the dataset registry (served by the jobs node)
    models: ModelsPort  # the model registry: versions, exports, loading (served by the jobs node)
    status: GraphStatus  # components and events
    services: ServicesPort = field(default_factory=NoLauncher)  # each node's process: start, stop (the launcher)
    cluster: ClusterPort = field(default_factory=NoCluster)  # distributed jobs' workers (served by the jobs node)
