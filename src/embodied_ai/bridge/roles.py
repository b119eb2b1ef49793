"""Roles and what each may do: the one table the bridge's access control reads.

``viewer`` reads (GET on data routes, every WebSocket channel), ``operator`` also moves the robot
and runs models (hardware, speech, vision, inference, chat), ``admin`` may do everything (models'
lifecycle, training, jobs, datasets, webhooks, operations logs). A route not named here needs
``viewer`` to read and ``admin`` to change anything, so a new route is closed by default.
"""

from __future__ import annotations

from enum import IntEnum

from embodied_ai.bridge.errors import ApiError


class Role(IntEnum):
    """Ordered: a role may do whatever the roles below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


ROLE_NAMES: tuple[str, ...] = tuple(role.label for role in Role)


def parse_role(text: str) -> Role:
    """``viewer`` / ``operator`` / ``admin`` as a Role; ValueError names the choices."""
    try:
        return Role[text.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown role '{text}': choose one of {', '.join(ROLE_NAMES)}") from None


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# (path prefix, minimum role to read, minimum role to change), first match wins.
ROUTE_ROLES: tuple[tuple[str, Role, Role], ...] = (
    ("/v1/ops/", Role.ADMIN, Role.ADMIN),          # operations: every node's logs, services' status
    ("/v1/webhooks", Role.ADMIN, Role.ADMIN),      # their URLs and deliveries
    ("/v1/hardware/", Role.VIEWER, Role.OPERATOR),  # motion, grasps, the emergency stop
    ("/v1/audio/", Role.VIEWER, Role.OPERATOR),     # speech
    ("/v1/vision/", Role.VIEWER, Role.OPERATOR),
    ("/v1/inference/", Role.VIEWER, Role.OPERATOR),
    ("/v1/multimodal/", Role.VIEWER, Role.OPERATOR),
    ("/v1/chat/", Role.VIEWER, Role.OPERATOR),      # OpenAI chat completions
    ("/v1/completions", Role.VIEWER, Role.OPERATOR),
    ("/v1/ai/", Role.VIEWER, Role.OPERATOR),        # seed 002's AI services: llm, nlp, vision
    ("/v1/router/route", Role.VIEWER, Role.OPERATOR),
    ("/v1/tasks", Role.VIEWER, Role.ADMIN),           # seed 003's training tasks: as /v1/jobs
    ("/v1/clients", Role.VIEWER, Role.ADMIN),         # the cluster's workers (read only)
    ("/v1/metrics/tasks/", Role.VIEWER, Role.ADMIN),  # a task's metrics (read only)
)
DEFAULT_READ_ROLE, DEFAULT_CHANGE_ROLE = Role.VIEWER, Role.ADMIN

# WebSocket channels and the role that may subscribe to each (all are read-only streams).
CHANNEL_ROLES: dict[str, Role] = {
    "hardware": Role.VIEWER, "cameras": Role.VIEWER, "inference": Role.VIEWER,
    "training": Role.VIEWER, "jobs": Role.VIEWER, "cluster": Role.VIEWER,
}


def route_role(method: str, path: str) -> Role:
    """The least role that may call ``method`` on ``path`` (a route template or a request path)."""
    read = method.upper() in READ_METHODS
    for prefix, read_role, change_role in ROUTE_ROLES:
        if path.startswith(prefix):
            return read_role if read else change_role
    return DEFAULT_READ_ROLE if read else DEFAULT_CHANGE_ROLE


def channel_role(channel: str) -> Role:
    """A channel not in the table (one added later) is the admin's until it is named here."""
    return CHANNEL_ROLES.get(channel, Role.ADMIN)


def insufficient(role: Role, required: Role, action: str) -> ApiError:
    """403 (error_code INSUFFICIENT_PERMISSIONS) naming the role the action needs."""
    return ApiError(403, f"Role '{role.label}' may not {action}: it needs '{required.label}' or above",
                    details={"role": role.label, "required_role": required.label})


def require_role(role: Role, required: Role, action: str) -> None:
    if role < required:
        raise insufficient(role, required, action)
