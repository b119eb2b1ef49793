"""A Dynamixel Protocol 2.0 servo bus (X-series) as a :class:`RobotHardware` back end.

Packets, CRC, byte stuffing and the sync read/write instructions come from ROBOTIS's
``dynamixel_sdk``; this module decides what to send each cycle and turns the SDK's result
codes into per-joint :class:`BusFault` values, so one bad servo never hides the others.

dynamixel_sdk 4.1.0 behaviours this module works around (each is explained where handled):

* Instruction packets that need byte stuffing go out unstuffed (``txPacket`` drops the
  result of ``addStuffing``): fixed by ``_PacketHandler``.
* ``GroupSyncRead.rxPacket`` throws away every servo's status error byte, so an overloaded
  servo would look healthy: the driver receives each status packet with ``readRx``.
* A failed sync read cannot be salvaged (``readRx`` discards other ids' packets while it
  waits), so the driver falls back to reading each servo on its own.
* The status timeout is hard-coded to 34 ms and measured with ``time.time()``, and the SDK
  busy-polls the port while it waits: ``_PortHandler`` makes the timeout configurable and
  monotonic and lets the wait sleep.
* ``port.is_using`` stays set forever if pyserial raises mid-exchange, after which every
  call fails with ``COMM_PORT_BUSY``: the driver clears it after port errors.
* A bad CRC and a truncated status packet are both ``COMM_RX_CORRUPT``; both map to
  ``BusFault.CRC_ERROR``.
* ``removeStuffing`` is not the exact inverse of stuffing for a few payloads (such as
  FF FF FD FF FD FD). Exhaustive checks over position-mode state blocks found none that
  trigger it, so the driver leaves it alone.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dynamixel_sdk import (
    COMM_PORT_BUSY,
    COMM_RX_CORRUPT,
    COMM_RX_FAIL,
    COMM_RX_TIMEOUT,
    COMM_SUCCESS,
    COMM_TX_FAIL,
    GroupSyncRead,
    GroupSyncWrite,
    PortHandler,
    Protocol2PacketHandler,
)

from embodied_ai.errors import HardwareError
from embodied_ai.hardware.base import BusFault, HardwareSnapshot, JointReading, RobotHardware
from embodied_ai.hardware.dynamixel import control_table as ct
from embodied_ai.robot.description import GRIPPER_JOINTS

_log = logging.getLogger(__name__)

# What a failing port raises: pyserial's SerialException is an OSError, but its buffer
# flushes let termios.error (not an OSError) escape when the device has gone.
try:
    import termios
    _PORT_ERRORS: tuple[type[Exception], ...] = (OSError, termios.error)
except ImportError:  # Windows has no termios
    _PORT_ERRORS = (OSError,)

MAX_SERVO_ID = 252  # 253..255 are reserved or broadcast
DEFAULT_BAUDRATE = 1_000_000
#: The SDK's own figure: twice the FTDI adapter's default 16 ms latency timer, plus 2 ms.
#: With the adapter's latency timer set to 1 ms, a few milliseconds suffice.
DEFAULT_STATUS_TIMEOUT_S = 0.034
_READ_POLL_S = 0.0005  # longest a single port read blocks while waiting for bytes

# What each dynamixel_sdk communication result means for the joint, and why.
_COMM_FAULTS: dict[int, tuple[BusFault, str]] = {
    COMM_RX_TIMEOUT: (BusFault.TIMEOUT, "no status packet before the timeout"),
    COMM_RX_FAIL: (BusFault.TIMEOUT, "no status packet"),
    COMM_RX_CORRUPT: (BusFault.CRC_ERROR, "corrupt status packet (bad CRC or truncated)"),
    COMM_TX_FAIL: (BusFault.DISCONNECTED, "the port accepted only part of the instruction"),
    COMM_PORT_BUSY: (BusFault.DISCONNECTED, "the port is busy with another exchange"),
}


def _comm_fault(result: int) -> tuple[BusFault, str]:
    # Anything else (COMM_TX_ERROR, COMM_NOT_AVAILABLE) means the exchange never reached
    # the wire, so the port itself is not usable as configured.
    return _COMM_FAULTS.get(result, (BusFault.DISCONNECTED, f"dynamixel_sdk result {result}"))


@dataclass(frozen=True)
class ServoConfig:
    """How one joint maps onto one servo: joint angle = direction * servo angle + offset,
    where the servo angle is 0 rad at 2048 ticks."""

    servo_id: int
    direction: int = 1   # +1, or -1 where the servo is mounted mirrored
    offset: float = 0.0  # rad

    def __post_init__(self) -> None:
        if not 0 <= self.servo_id <= MAX_SERVO_ID:
            raise ValueError(f"Dynamixel id must be 0..{MAX_SERVO_ID}, got {self.servo_id}")
        if self.direction not in (1, -1):
            raise ValueError(f"direction must be 1 or -1, got {self.direction}")
        if not math.isfinite(self.offset):
            raise ValueError(f"offset must be a finite angle in rad, got {self.offset}")

    @classmethod
    def from_config(cls, joint: str, entry: Mapping[str, Any]) -> ServoConfig:
        """Build from a YAML entry like ``{id: 1, direction: -1, offset: 0.1}``."""
        unknown = set(entry) - {"id", "direction", "offset"}
        if unknown or "id" not in entry:
            raise ValueError(f"joint '{joint}': expected keys id (required), direction, "
                             f"offset; got {', '.join(map(str, entry)) or 'nothing'}")
        try:
            return cls(servo_id=int(entry["id"]), direction=int(entry.get("direction", 1)),
                       offset=float(entry.get("offset", 0.0)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"joint '{joint}': {exc}") from exc

    def to_joint_position(self, ticks: int) -> float:
        return self.direction * ct.ticks_to_radians(ticks) + self.offset

    def to_ticks(self, position: float) -> int:
        # direction is +-1, so it is its own inverse.
        return ct.radians_to_ticks(self.direction * (position - self.offset))


@dataclass(frozen=True)
class _StatusReply:
    """One servo's answer to a read, as dynamixel_sdk reports it."""

    result: int   # COMM_* code
    error: int    # the status packet's error byte (alert bit | error number)
    data: bytes


class _PacketHandler(Protocol2PacketHandler):
    """Protocol2PacketHandler whose instruction packets are really byte-stuffed.

    ``addStuffing`` builds the stuffed packet in a new list whenever stuffing lengthens it,
    but ``txPacket`` ignores its return value, so a payload containing FF FF FD (e.g. a
    goal of -131073 ticks) goes out unstuffed with the wrong LENGTH. Writing the result
    back into the caller's list lets the SDK's own txPacket send it correctly.
    """

    def addStuffing(self, packet: list[int]) -> list[int]:  # noqa: N802 (SDK API)
        stuffed = super().addStuffing(packet)
        packet[:] = stuffed
        return packet


class _PortHandler(PortHandler):
    """dynamixel_sdk's PortHandler with a configurable, monotonic status timeout.

    The SDK method names are kept since the SDK's packet handler calls them.
    """

    def __init__(self, port_name: str, status_timeout_s: float) -> None:
        super().__init__(port_name)
        self._status_timeout_ms = status_timeout_s * 1000.0

    def setPacketTimeout(self, packet_length: int) -> None:  # noqa: N802 (SDK API)
        # Time to transmit the expected bytes, plus the time a servo may take to answer.
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + self._status_timeout_ms

    def getCurrentTime(self) -> float:  # noqa: N802 (SDK API)
        return time.monotonic() * 1000.0  # the SDK works in milliseconds

    def setupPort(self, cflag_baud: int) -> bool:  # noqa: N802 (SDK API)
        opened = super().setupPort(cflag_baud)
        # The SDK opens the port non-blocking and polls readPort in a tight loop while it
        # waits for a status packet, spinning a CPU core. A short read timeout lets that
        # wait sleep in select() instead; it adds no latency, because a read returns as
        # soon as the bytes it asked for have arrived.
        self.ser.timeout = _READ_POLL_S
        return bool(opened)


class DynamixelBus(RobotHardware):
    """Joints driven by Dynamixel X-series servos on one Protocol 2.0 bus.

    Goal positions are passed through as they are: the safety layer limits them before
    they get here, and a servo silently ignores a sync-written goal outside its own
    position limits. The bus has no IMU, so :attr:`HardwareSnapshot.imu` is always None.
    """

    kind = "dynamixel"

    def __init__(self, port: str, baudrate: int, joints: Mapping[str, ServoConfig], *,
                 status_timeout_s: float = DEFAULT_STATUS_TIMEOUT_S,
                 gripper_force_per_current_unit: float | None = None) -> None:
        """
        Args:
            port: serial device, e.g. ``/dev/ttyUSB0``.
            baudrate: must match the servos' Baud Rate register.
            joints: joint name -> servo; ids must be unique.
            status_timeout_s: how long a servo may take to answer, beyond transmission time.
            gripper_force_per_current_unit: N of grip force per unit of Present Current;
                when given, ``read()`` reports force sensors ``gripper_l``/``gripper_r``
                for those joints.
        """
        self._validate(port, baudrate, joints, status_timeout_s, gripper_force_per_current_unit)
        self._port_name = port
        self._baudrate = baudrate
        self._joints = dict(joints)
        self._gripper_force_per_current_unit = gripper_force_per_current_unit
        self._port = _PortHandler(port, status_timeout_s)
        self._packets = _PacketHandler()
        self._models: dict[int, ct.ServoModel] = {}  # filled by open() from the ping answers
        self._lock = threading.Lock()  # one bus exchange at a time
        self._state_sync_read = GroupSyncRead(self._port, self._packets,
                                              ct.STATE_BLOCK_START, ct.STATE_BLOCK_LENGTH)
        for config in self._joints.values():
            self._state_sync_read.addParam(config.servo_id)

    @staticmethod
    def _validate(port: str, baudrate: int, joints: Mapping[str, ServoConfig],
                  status_timeout_s: float, gripper_force: float | None) -> None:
        if not port:
            raise ValueError("a serial port path is required")
        if PortHandler(port).getCFlagBaud(baudrate) <= 0:
            raise ValueError(f"baud rate {baudrate} is not one dynamixel_sdk can set")
        if not joints:
            raise ValueError("at least one joint is required")
        ids = [config.servo_id for config in joints.values()]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"Dynamixel ids used by more than one joint: {duplicates}")
        if not status_timeout_s > 0:
            raise ValueError(f"status_timeout_s must be positive, got {status_timeout_s}")
        if gripper_force is not None and not (math.isfinite(gripper_force) and gripper_force > 0):
            raise ValueError(
                f"gripper_force_per_current_unit must be positive, got {gripper_force}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DynamixelBus:
        """Build from a parsed YAML mapping::

            port: /dev/ttyUSB0
            baudrate: 1000000
            status_timeout_s: 0.01                 # optional
            gripper_force_per_current_unit: 0.05   # optional, N per Present Current unit
            joints:
              head_pan: {id: 1, direction: 1, offset: 0.0}
        """
        allowed = {"port", "baudrate", "joints", "status_timeout_s",
                   "gripper_force_per_current_unit"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValueError(f"unknown dynamixel settings: {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(allowed))}")
        if "port" not in config or not isinstance(config.get("joints"), Mapping):
            raise ValueError("dynamixel settings need 'port' and a 'joints' mapping")
        joints = {str(name): ServoConfig.from_config(str(name), entry)
                  for name, entry in config["joints"].items()}
        force = config.get("gripper_force_per_current_unit")
        return cls(str(config["port"]), int(config.get("baudrate", DEFAULT_BAUDRATE)), joints,
                   status_timeout_s=float(config.get("status_timeout_s",
                                                     DEFAULT_STATUS_TIMEOUT_S)),
                   gripper_force_per_current_unit=None if force is None else float(force))

    # --- RobotHardware ---------------------------------------------------------------------
    @property
    def joint_names(self) -> Sequence[str]:
        return tuple(self._joints)

    def open(self) -> None:
        """Open the port and ping every servo; HardwareError names any that do not answer."""
        with self._lock:
            if self._port.is_open:
                return
            try:
                # setBaudRate opens (or reopens) the port at that rate; openPort() would
                # first open it at the SDK's default rate.
                self._port.setBaudRate(self._baudrate)
            except _PORT_ERRORS as exc:
                raise HardwareError(
                    f"cannot open Dynamixel port {self._port_name}: {exc}") from exc
            try:
                self._models = self._identify_servos()
            except BaseException:
                self._port.closePort()
                raise

    def close(self) -> None:
        with self._lock:
            if self._port.is_open:
                self._port.closePort()

    def set_torque(self, enabled: bool) -> None:
        """Enable or disable torque on every servo; HardwareError names those that failed.

        Before enabling, each servo's goal is set to where it is now, so the arm holds its
        pose instead of jumping to whatever goal was last written. Every servo is tried
        even when one fails: disabling torque must reach as many as possible.
        """
        with self._lock:
            self._require_open()
            failures: dict[str, str] = {}
            for joint, config in self._joints.items():
                try:
                    failure = self._set_servo_torque(config.servo_id, enabled)
                except _PORT_ERRORS as exc:
                    self._port.is_using = False  # the SDK leaves it set when pyserial raises
                    failure = f"port error: {exc}"
                if failure:
                    failures[joint] = failure
        if failures:
            action = "enable" if enabled else "disable"
            listed = "; ".join(f"{joint}: {why}" for joint, why in failures.items())
            raise HardwareError(f"could not {action} torque on {listed}")

    def read(self) -> HardwareSnapshot:
        """One sync read of every servo; per-servo reads when that fails, so only the
        joints at fault go missing."""
        with self._lock:
            self._require_open()
            try:
                replies = self._sync_read_state()
                if replies is None:
                    replies = self._read_state_one_by_one()
                return self._snapshot(replies)
            except _PORT_ERRORS as exc:
                self._port.is_using = False  # the SDK leaves it set when pyserial raises
                return self._disconnected_snapshot(exc)

    def write_positions(self, targets: Mapping[str, float]) -> Mapping[str, BusFault]:
        """One sync write of goal positions (rad). A sync write gets no status packet, so
        only port errors can be reported; whether a servo took the goal shows in read()."""
        goals = {self._servo(joint).servo_id: self._goal_bytes(joint, position)
                 for joint, position in targets.items()}
        if not goals:
            return {}
        with self._lock:
            self._require_open()
            sync_write = GroupSyncWrite(self._port, self._packets,
                                        ct.GOAL_POSITION.address, ct.GOAL_POSITION.size)
            for servo_id, goal in goals.items():
                sync_write.addParam(servo_id, goal)
            try:
                result = sync_write.txPacket()
            except _PORT_ERRORS as exc:
                self._port.is_using = False  # the SDK leaves it set when pyserial raises
                _log.warning("goal position write on %s failed: %s", self._port_name, exc)
                return {joint: BusFault.DISCONNECTED for joint in targets}
        if result == COMM_SUCCESS:
            return {}
        fault, why = _comm_fault(result)
        _log.warning("goal position write on %s failed: %s", self._port_name, why)
        return {joint: fault for joint in targets}

    # --- opening -------------------------------------------------------------------------
    def _identify_servos(self) -> dict[int, ct.ServoModel]:
        """Ping every configured id; return each servo's model or raise naming the absent."""
        models: dict[int, ct.ServoModel] = {}
        problems: list[str] = []
        for joint, config in self._joints.items():
            model_number, result, _error = self._packets.ping(self._port, config.servo_id)
            # A set error byte still proves the servo is there; read() will report it.
            if result != COMM_SUCCESS:
                problems.append(f"id {config.servo_id} ({joint}): {_comm_fault(result)[1]}")
            elif model_number not in ct.SUPPORTED_MODELS:
                problems.append(f"id {config.servo_id} ({joint}): model number {model_number} "
                                f"is not a supported X-series model")
            else:
                models[config.servo_id] = ct.SUPPORTED_MODELS[model_number]
        if problems:
            raise HardwareError(
                f"Dynamixel servos missing or unusable on {self._port_name} at {self._baudrate} "
                f"baud: {'; '.join(problems)}. Check power, wiring, ids and baud rate.")
        return models

    # --- reading -------------------------------------------------------------------------
    def _sync_read_state(self) -> dict[int, _StatusReply] | None:
        """Read the state block of every servo with one SYNC_READ; None if any failed."""
        result = self._state_sync_read.txPacket()
        if result != COMM_SUCCESS:
            return None
        replies: dict[int, _StatusReply] = {}
        # readRx rather than GroupSyncRead.rxPacket, which drops the status error byte.
        for config in self._joints.values():
            data, result, error = self._packets.readRx(self._port, config.servo_id,
                                                       ct.STATE_BLOCK_LENGTH)
            if result != COMM_SUCCESS:
                self._wait_out_sync_read()
                return None
            replies[config.servo_id] = _StatusReply(result, error, bytes(data))
        return replies

    def _wait_out_sync_read(self) -> None:
        """Let the servos after a failed one finish answering, then drop their packets.

        On a half-duplex bus the next instruction would collide with them. The sync read's
        own deadline (set by the SDK for all expected answers) bounds how long that takes.
        """
        while not self._port.isPacketTimeout():
            time.sleep(0.0002)
        self._port.clearPort()

    def _read_state_one_by_one(self) -> dict[int, _StatusReply]:
        return {config.servo_id: self._read_block(config.servo_id, ct.STATE_BLOCK_START,
                                                  ct.STATE_BLOCK_LENGTH)
                for config in self._joints.values()}

    def _read_block(self, servo_id: int, address: int, length: int) -> _StatusReply:
        data, result, error = self._packets.readTxRx(self._port, servo_id, address, length)
        return _StatusReply(result, error, bytes(data))

    def _snapshot(self, replies: Mapping[int, _StatusReply]) -> HardwareSnapshot:
        stamp = time.monotonic()
        joints: dict[str, JointReading] = {}
        forces: dict[str, float] = {}
        faults: dict[str, BusFault] = {}
        details: dict[str, str] = {}
        for joint, config in self._joints.items():
            reply = replies[config.servo_id]
            problem = self._reply_problem(config.servo_id, reply)
            if problem is not None:
                faults[joint], details[joint] = problem
                continue
            joints[joint] = self._joint_reading(config, reply.data)
            force = self._gripper_force(joint, reply.data)
            if force is not None:
                forces[joint] = force
        return HardwareSnapshot(stamp=stamp, joints=joints, forces=forces, imu=None,
                                faults=faults, fault_details=details)

    def _reply_problem(self, servo_id: int, reply: _StatusReply) -> tuple[BusFault, str] | None:
        """Why a reply cannot be used, or None when it is good."""
        if reply.result != COMM_SUCCESS:
            fault, why = _comm_fault(reply.result)
            return fault, f"servo {servo_id}: {why}"
        if reply.error:
            why = self._describe_error(servo_id, reply.error)
            return BusFault.DEVICE_ERROR, f"servo {servo_id}: {why}"
        if len(reply.data) < ct.STATE_BLOCK_LENGTH:
            return BusFault.CRC_ERROR, (f"servo {servo_id}: status packet carried "
                                        f"{len(reply.data)} of {ct.STATE_BLOCK_LENGTH} bytes")
        return None

    def _describe_error(self, servo_id: int, error: int) -> str:
        """The status error byte in words; for the alert bit, the Hardware Error Status."""
        parts = []
        if error & ct.HARDWARE_ALERT_BIT:
            parts.append(self._describe_hardware_error(servo_id))
        error_number = error & ~ct.HARDWARE_ALERT_BIT
        if error_number:
            parts.append(self._sdk_error_text(error_number))
        return "; ".join(parts)

    def _describe_hardware_error(self, servo_id: int) -> str:
        status = self._read_block(servo_id, ct.HARDWARE_ERROR_STATUS.address,
                                  ct.HARDWARE_ERROR_STATUS.size)
        if status.result != COMM_SUCCESS or not status.data:
            return "hardware error (Hardware Error Status unreadable)"
        code = status.data[0]
        names = ct.decode_hardware_error(code) or [f"code 0x{code:02x}"]
        return f"hardware error: {', '.join(names)}; torque stays off until the servo reboots"

    def _sdk_error_text(self, error: int) -> str:
        text: str = self._packets.getRxPacketError(error)
        return text.removeprefix("[RxPacketError] ")

    def _joint_reading(self, config: ServoConfig, data: bytes) -> JointReading:
        model = self._models[config.servo_id]
        return JointReading(
            position=config.to_joint_position(_field(data, ct.PRESENT_POSITION)),
            velocity=config.direction * ct.velocity_units_to_rad_per_s(
                _field(data, ct.PRESENT_VELOCITY)),
            effort=config.direction * _field(data, ct.PRESENT_CURRENT)
            * model.effort_per_current_unit,
            temperature=float(_field(data, ct.PRESENT_TEMPERATURE)),
        )

    def _gripper_force(self, joint: str, data: bytes) -> float | None:
        """Grip force estimated from motor current; a magnitude, whichever way it closes."""
        if self._gripper_force_per_current_unit is None or joint not in GRIPPER_JOINTS.values():
            return None
        return abs(_field(data, ct.PRESENT_CURRENT)) * self._gripper_force_per_current_unit

    def _disconnected_snapshot(self, exc: Exception) -> HardwareSnapshot:
        detail = f"port {self._port_name} failed: {exc}"
        return HardwareSnapshot(
            stamp=time.monotonic(), joints={}, imu=None,
            faults={joint: BusFault.DISCONNECTED for joint in self._joints},
            fault_details={joint: detail for joint in self._joints})

    # --- writing -------------------------------------------------------------------------
    def _goal_bytes(self, joint: str, position: float) -> list[int]:
        if not math.isfinite(position):
            raise ValueError(f"goal position for '{joint}' is not finite: {position}")
        ticks = self._servo(joint).to_ticks(position)
        return list(_encode(ticks, ct.GOAL_POSITION))

    def _set_servo_torque(self, servo_id: int, enabled: bool) -> str | None:
        """Switch one servo's torque; returns why it failed, or None."""
        if enabled:
            present = self._read_block(servo_id, ct.PRESENT_POSITION.address,
                                       ct.PRESENT_POSITION.size)
            why = self._exchange_problem(present.result, present.error)
            if why is None and len(present.data) != ct.PRESENT_POSITION.size:
                why = f"status packet carried {len(present.data)} bytes"
            if why:
                return f"reading present position: {why}"
            # The present position's bytes go back unchanged as the goal.
            result, error = self._packets.writeTxRx(
                self._port, servo_id, ct.GOAL_POSITION.address, ct.GOAL_POSITION.size,
                list(present.data))
            why = self._exchange_problem(result, error)
            if why:
                return f"holding present position: {why}"
        result, error = self._packets.write1ByteTxRx(self._port, servo_id,
                                                     ct.TORQUE_ENABLE.address, int(enabled))
        # A pending hardware error (alert bit) already cut the torque; disabling succeeds.
        if not enabled:
            error &= ~ct.HARDWARE_ALERT_BIT
        return self._exchange_problem(result, error)

    def _exchange_problem(self, result: int, error: int) -> str | None:
        if result != COMM_SUCCESS:
            return _comm_fault(result)[1]
        if error:
            return self._sdk_error_text(error)
        return None

    # --- helpers -------------------------------------------------------------------------
    def _servo(self, joint: str) -> ServoConfig:
        try:
            return self._joints[joint]
        except KeyError:
            raise KeyError(f"joint '{joint}' is not on this Dynamixel bus; "
                           f"its joints: {', '.join(self._joints)}") from None

    def _require_open(self) -> None:
        if not self._port.is_open:
            raise HardwareError(f"Dynamixel port {self._port_name} is not open; call open() first")


def _field(block: bytes, register: ct.Register) -> int:
    """A register's value out of the state block read from STATE_BLOCK_START."""
    start = register.address - ct.STATE_BLOCK_START
    return int.from_bytes(block[start:start + register.size], "little", signed=register.signed)


def _encode(value: int, register: ct.Register) -> bytes:
    """Little-endian bytes of a register value; refuses values the register cannot hold."""
    try:
        return value.to_bytes(register.size, "little", signed=register.signed)
    except OverflowError:
        raise ValueError(f"{register.name} value {value} does not fit in "
                         f"{register.size} bytes") from None
