"""Hardware Control API: servo moves, grasps, sensors and the emergency stop.

The servo controller enforces every limit; the bridge only converts degrees to radians and
passes its refusals (4001 SAFETY_VIOLATION) through."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.hardware import HardwarePort, SensorSnapshot
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.hardware import (
    EmergencyStopResult,
    GraspCommand,
    GraspResult,
    Sensors,
    ServoMove,
    ServoMoved,
)
from embodied_ai.bridge.security import authorize

router = APIRouter(prefix=f"{deps.API_PREFIX}/hardware", tags=["hardware"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 409, 422, 429, 503, 504))
Hardware = Annotated[HardwarePort, Depends(deps.hardware)]


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
async def move_servo(body: ServoMove, hardware: Hardware) -> Envelope[ServoMoved]:
    duration_s = body.duration_ms / 1000.0 if body.duration_ms else None
    outcome = await hardware.move_joints({body.joint_name: math.radians(body.angle)}, duration_s, body.relative)
    measured = dict(zip(outcome.joint_names, outcome.positions))[body.joint_name]
    return ok(ServoMoved(joint_name=body.joint_name, angle=math.degrees(measured), target=body.angle,
                         time_ms=outcome.time_ms))


@router.post("/grasp", summary="Close a gripper on an object")
async def grasp(body: GraspCommand, hardware: Hardware) -> Envelope[GraspResult]:
    object_id = -1 if body.object_id is None else body.object_id
    outcome = await hardware.grasp(body.side or "", body.force, object_id)
    return ok(GraspResult(grasped=outcome.grasped, force_applied=outcome.force_applied, time_ms=outcome.time_ms))


@router.get("/sensors", summary="All sensor readings")
async def sensors(hardware: Hardware) -> Envelope[Sensors]:
    return ok(sensors_in_api_units(hardware.sensors()))


@router.post("/emergency_stop", summary="Latch the emergency stop (every motion is refused until reset)")
async def emergency_stop(hardware: Hardware) -> Envelope[EmergencyStopResult]:
    outcome = await hardware.emergency_stop()
    return ok(EmergencyStopResult(latched=True, message=outcome.message))


@router.post("/emergency_stop/reset", summary="Release a latched emergency stop")
async def reset_emergency_stop(hardware: Hardware) -> Envelope[EmergencyStopResult]:
    outcome = await hardware.reset_emergency_stop()
    return ok(EmergencyStopResult(latched=False, message=outcome.message))
