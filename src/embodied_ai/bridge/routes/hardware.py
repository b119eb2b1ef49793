"""Hardware Control API: servo moves, grasps, sensors and the emergency stop.

The servo controller enforces every limit; the bridge only converts degrees to radians and
passes its refusals (4001 SAFETY_VIOLATION) through."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.port import RobotGraph, SensorSnapshot
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.hardware import (EmergencyStopResult, GraspCommand, GraspResult, Sensors,
                                                 ServoMove, ServoMoved)
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=f"{deps.API_PREFIX}/hardware", tags=["hardware"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 409, 422, 429, 503, 504))
Graph = Annotated[RobotGraph, Depends(deps.graph)]


def sensors_in_api_units(snapshot: SensorSnapshot) -> Sensors:
    return Sensors(
        joint_positions={j: math.degrees(p) for j, p in snapshot.joint_positions.items()},
        joint_velocities={j: math.degrees(v) for j, v in snapshot.joint_velocities.items()},
        forces=snapshot.forces,
        temperatures={j: t for j, t in snapshot.temperatures.items() if math.isfinite(t)},
        cameras=snapshot.cameras,
        joint_faults=snapshot.joint_faults,
        emergency_stop=snapshot.emergency_stop,
        emergency_stop_reason=snapshot.emergency_stop_reason,
        backend=snapshot.backend,
        control_loop_hz=snapshot.loop_rate_hz,
        age_ms=snapshot.age_s * 1000.0,
    )


@router.post("/servo/move", summary="Move one joint (degrees)")
async def move_servo(body: ServoMove, graph: Graph) -> Envelope[ServoMoved]:
    duration_s = body.duration_ms / 1000.0 if body.duration_ms else None
    outcome = await graph.move_joints({body.joint_name: math.radians(body.angle)}, duration_s, body.relative)
    measured = dict(zip(outcome.joint_names, outcome.positions))[body.joint_name]
    return ok(ServoMoved(joint_name=body.joint_name, angle=math.degrees(measured), target=body.angle,
                         time_ms=outcome.time_ms))


@router.post("/grasp", summary="Close a gripper on an object")
async def grasp(body: GraspCommand, graph: Graph) -> Envelope[GraspResult]:
    object_id = -1 if body.object_id is None else body.object_id
    outcome = await graph.grasp(body.side or "", body.force, object_id)
    return ok(GraspResult(grasped=outcome.grasped, force_applied=outcome.force_applied, time_ms=outcome.time_ms))


@router.get("/sensors", summary="All sensor readings")
async def sensors(graph: Graph) -> Envelope[Sensors]:
    return ok(sensors_in_api_units(graph.sensors()))


@router.post("/emergency_stop", summary="Latch the emergency stop (every motion is refused until reset)")
async def emergency_stop(graph: Graph) -> Envelope[EmergencyStopResult]:
    outcome = await graph.emergency_stop()
    return ok(EmergencyStopResult(latched=True, message=outcome.message))


@router.post("/emergency_stop/reset", summary="Release a latched emergency stop")
async def reset_emergency_stop(graph: Graph) -> Envelope[EmergencyStopResult]:
    outcome = await graph.reset_emergency_stop()
    return ok(EmergencyStopResult(latched=False, message=outcome.message))
