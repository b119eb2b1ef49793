"""An emulated Dynamixel X-series bus on a pseudo-terminal.

A physical servo bus cannot exist on a CI machine, so it is emulated at the protocol level:
the driver opens the pty's slave side exactly as it would open /dev/ttyUSB0, and a
background thread on the master side answers Protocol 2.0 instruction packets like a chain
of X-series servos would. Everything between the driver and the wire (dynamixel_sdk's packet
building, byte stuffing, CRC, pyserial) therefore runs for real in tests.

The packet handling here is written independently of dynamixel_sdk on purpose: if it reused
the SDK's parser, a bug in the SDK (or in how the driver uses it) would be mirrored by the
emulator and go unnoticed. The CRC comes from the ``crc`` package for the same reason.

Typical use::

    with EmulatedDynamixelBus([1, 2, 3]) as bus:
        driver = DynamixelBus(bus.port_name, 1_000_000, joints)
        bus.inject(2, "timeout")   # servo 2 stops answering
"""

from __future__ import annotations

import math
import os
import select
import threading
import time
import tty
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from crc import Calculator, Configuration

from embodied_ai.hardware.dynamixel import control_table as ct

Fault = Literal["timeout", "crc", "hardware_error"]
FAULTS: tuple[Fault, ...] = ("timeout", "crc", "hardware_error")

# --- Protocol 2.0 constants (from the ROBOTIS e-Manual, not from dynamixel_sdk) -------------
HEADER = b"\xff\xff\xfd\x00"
_HEADER_PREFIX = b"\xff\xff\xfd"  # the sequence byte stuffing keeps out of packet bodies
_STUFFING_BYTE = 0xFD
BROADCAST_ID = 0xFE
_MAX_PACKET_LENGTH = 1024         # a LENGTH field beyond this is line noise, not a packet

INSTRUCTION_PING = 0x01
INSTRUCTION_READ = 0x02
INSTRUCTION_WRITE = 0x03
INSTRUCTION_SYNC_READ = 0x82
INSTRUCTION_SYNC_WRITE = 0x83
INSTRUCTION_STATUS = 0x55

# Error numbers carried in the low 7 bits of a status packet's error byte.
ERROR_NONE = 0x00
ERROR_INSTRUCTION = 0x02
ERROR_CRC = 0x03
ERROR_DATA_LENGTH = 0x05
ERROR_DATA_LIMIT = 0x06
ERROR_ACCESS = 0x07

_CRC16 = Calculator(Configuration(width=16, polynomial=0x8005), optimized=True)


def crc16(data: bytes) -> int:
    """Protocol 2.0's CRC-16 (polynomial 0x8005, no reflection, initial value 0)."""
    return _CRC16.checksum(data)


def stuff(body: bytes) -> bytes:
    """Insert 0xFD after every FF FF FD so a packet body can never contain a header."""
    stuffed = bytearray()
    for byte in body:
        stuffed.append(byte)
        if stuffed[-3:] == _HEADER_PREFIX:
            stuffed.append(_STUFFING_BYTE)
    return bytes(stuffed)


def unstuff(stuffed: bytes) -> bytes:
    """Undo :func:`stuff`: drop the 0xFD that follows every FF FF FD."""
    body = bytearray()
    drop_next = False
    for byte in stuffed:
        if drop_next:
            drop_next = False
            continue
        body.append(byte)
        drop_next = body[-3:] == _HEADER_PREFIX
    return bytes(body)


def build_packet(servo_id: int, body: bytes, *, corrupt_crc: bool = False) -> bytes:
    """Frame an instruction-or-status body (instruction byte onwards) as a packet."""
    stuffed = stuff(body)
    length = len(stuffed) + 2  # LENGTH counts the body and the CRC
    packet = HEADER + bytes([servo_id]) + length.to_bytes(2, "little") + stuffed
    crc = crc16(packet)
    if corrupt_crc:
        crc ^= 0xFFFF
    return packet + crc.to_bytes(2, "little")


def build_status_packet(servo_id: int, error: int, params: bytes = b"", *,
                        corrupt_crc: bool = False) -> bytes:
    return build_packet(servo_id, bytes([INSTRUCTION_STATUS, error]) + params,
                        corrupt_crc=corrupt_crc)


@dataclass(frozen=True)
class InstructionPacket:
    servo_id: int
    instruction: int
    params: bytes
    crc_ok: bool


class InstructionParser:
    """Reassembles instruction packets from a byte stream that arrives in arbitrary chunks."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[InstructionPacket]:
        """Add received bytes; return every packet they complete."""
        self._buffer += data
        packets = []
        while (packet := self._take_packet()) is not None:
            packets.append(packet)
        return packets

    def _take_packet(self) -> InstructionPacket | None:
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                # Keep a possible header split across two reads.
                del self._buffer[:max(0, len(self._buffer) - (len(HEADER) - 1))]
                return None
            del self._buffer[:start]
            if len(self._buffer) < 7:
                return None
            length = int.from_bytes(self._buffer[5:7], "little")
            if not 3 <= length <= _MAX_PACKET_LENGTH:  # instruction + CRC at least
                del self._buffer[:1]  # not a real header; look for the next one
                continue
            total = 7 + length
            if len(self._buffer) < total:
                return None
            raw = bytes(self._buffer[:total])
            del self._buffer[:total]
            body = unstuff(raw[7:-2])
            return InstructionPacket(
                servo_id=raw[4],
                instruction=body[0] if body else 0,
                params=body[1:],
                crc_ok=crc16(raw[:-2]) == int.from_bytes(raw[-2:], "little"),
            )


# Spans [start, end) of the control table the host may not write: the identity block
# (model number, model information, firmware version and, since re-addressing a servo is
# not emulated, the id), Hardware Error Status, and everything the servo measures.
_READ_ONLY_SPANS: tuple[tuple[int, int], ...] = (
    (ct.MODEL_NUMBER.address, ct.ID.end),
    (ct.HARDWARE_ERROR_STATUS.address, ct.HARDWARE_ERROR_STATUS.end),
    (ct.GOAL_POSITION.end, ct.CONTROL_TABLE_SIZE),
)


def _is_read_only(address: int, end: int) -> bool:
    """Whether the bytes [address, end) touch a register the host may not write."""
    return any(address < span_end and span_start < end for span_start, span_end in _READ_ONLY_SPANS)


class EmulatedServo:
    """One X-series servo: a control table plus a first-order model of the horn's motion."""

    #: Present Current units per tick of position error: a stiff-ish proportional loop.
    CURRENT_PER_TICK_ERROR = 1.0

    def __init__(self, servo_id: int, model: ct.ServoModel, *, position_ticks: int,
                 temperature_c: int, time_constant_s: float) -> None:
        self.servo_id = servo_id
        self.table = bytearray(ct.CONTROL_TABLE_SIZE)
        self.position = float(position_ticks)  # ticks, kept fractional for smooth motion
        self.time_constant_s = time_constant_s
        self.faults: set[Fault] = set()
        self.goals_received: list[int] = []
        self._load_factory_defaults(model, position_ticks, temperature_c)

    def _load_factory_defaults(self, model: ct.ServoModel, position_ticks: int,
                               temperature_c: int) -> None:
        self.put(ct.MODEL_NUMBER, model.model_number)
        self.put(ct.FIRMWARE_VERSION, 46)
        self.put(ct.ID, self.servo_id)
        self.put(ct.BAUD_RATE, 3)  # 1 Mbps
        self.put(ct.OPERATING_MODE, ct.OPERATING_MODE_POSITION)
        self.put(ct.TEMPERATURE_LIMIT, 80)
        self.put(ct.CURRENT_LIMIT, 1193)
        self.put(ct.MAX_POSITION_LIMIT, ct.TICKS_PER_REVOLUTION - 1)
        self.put(ct.MIN_POSITION_LIMIT, 0)
        self.put(ct.STATUS_RETURN_LEVEL, 2)
        self.put(ct.GOAL_POSITION, position_ticks)
        self.put(ct.PRESENT_POSITION, position_ticks)
        self.put(ct.PRESENT_INPUT_VOLTAGE, 120)  # 12.0 V
        self.put(ct.PRESENT_TEMPERATURE, temperature_c)

    # --- register access -----------------------------------------------------------------
    def get(self, register: ct.Register) -> int:
        raw = self.table[register.address:register.end]
        return int.from_bytes(raw, "little", signed=register.signed)

    def put(self, register: ct.Register, value: int) -> None:
        # Registers wrap like the firmware's fixed-width integers; two's complement for
        # negatives whatever the register's declared signedness.
        raw = (value & ((1 << (8 * register.size)) - 1)).to_bytes(register.size, "little")
        self.table[register.address:register.end] = raw

    @property
    def torque_enabled(self) -> bool:
        return self.get(ct.TORQUE_ENABLE) == 1

    def status_error(self, error_number: int = ERROR_NONE) -> int:
        """A status packet's error byte: the alert bit flags a pending hardware error."""
        alert = ct.HARDWARE_ALERT_BIT if self.get(ct.HARDWARE_ERROR_STATUS) else 0
        return alert | error_number

    # --- instructions --------------------------------------------------------------------
    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """READ: (error number, data)."""
        if address + length > len(self.table):
            return ERROR_ACCESS, b""
        return ERROR_NONE, bytes(self.table[address:address + length])

    def write(self, address: int, data: bytes) -> int:
        """WRITE: apply the data unless the servo would refuse it; return the error number."""
        end = address + len(data)
        if not data or end > len(self.table) or _is_read_only(address, end):
            return ERROR_ACCESS
        if address < ct.EEPROM_END and self.torque_enabled:
            return ERROR_ACCESS  # EEPROM is locked while torque is on
        if address <= ct.GOAL_POSITION.address and ct.GOAL_POSITION.end <= end:
            offset = ct.GOAL_POSITION.address - address
            goal = int.from_bytes(data[offset:offset + 4], "little", signed=True)
            self.goals_received.append(goal)
            if not self.get(ct.MIN_POSITION_LIMIT) <= goal <= self.get(ct.MAX_POSITION_LIMIT):
                return ERROR_DATA_LIMIT
        was_enabled = self.torque_enabled
        self.table[address:end] = data
        if was_enabled and not self.torque_enabled:
            self._stop_moving()
        return ERROR_NONE

    # --- faults ------------------------------------------------------------------------
    def raise_hardware_error(self) -> None:
        """An overload, as the firmware reports it: error bit set and torque cut."""
        self.put(ct.HARDWARE_ERROR_STATUS, 0x20)
        self.put(ct.TORQUE_ENABLE, 0)
        self._stop_moving()

    def clear_faults(self) -> None:
        """Like a reboot: forget injected faults and the hardware error status."""
        self.faults.clear()
        self.put(ct.HARDWARE_ERROR_STATUS, 0)

    # --- physics -------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        """Advance the motion model by ``dt`` seconds.

        With torque on, the horn approaches the goal as a first-order lag; with torque off
        nothing drives it, so present values stay as they are (or as a test set them).
        """
        if not self.torque_enabled or dt <= 0.0:
            return
        goal = self.get(ct.GOAL_POSITION)
        previous = self.position
        self.position += (goal - previous) * (1.0 - math.exp(-dt / self.time_constant_s))
        ticks_per_s = (self.position - previous) / dt
        rpm = ticks_per_s * 60.0 / ct.TICKS_PER_REVOLUTION
        current_limit = self.get(ct.CURRENT_LIMIT)
        current = round((goal - self.position) * self.CURRENT_PER_TICK_ERROR)
        self.put(ct.PRESENT_POSITION, round(self.position))
        self.put(ct.PRESENT_VELOCITY, round(rpm / ct.VELOCITY_UNIT_RPM))
        self.put(ct.PRESENT_CURRENT, max(-current_limit, min(current_limit, current)))
        self.put(ct.MOVING, int(abs(goal - self.position) >= 1.0))

    def _stop_moving(self) -> None:
        self.put(ct.PRESENT_VELOCITY, 0)
        self.put(ct.PRESENT_CURRENT, 0)
        self.put(ct.MOVING, 0)


class EmulatedDynamixelBus:
    """A chain of emulated X-series servos answering on a pseudo-terminal.

    Pass :attr:`port_name` to the driver as its serial port. Servo state may be inspected
    and changed from the test thread while the bus thread serves packets; a lock keeps the
    two consistent.
    """

    def __init__(self, servo_ids: Iterable[int], *, model: ct.ServoModel = ct.XM430_W350,
                 position_ticks: int = ct.CENTER_TICKS, temperature_c: int = 35,
                 time_constant_s: float = 0.05, physics_period_s: float = 0.002) -> None:
        self._servos = {
            servo_id: EmulatedServo(servo_id, model, position_ticks=position_ticks,
                                    temperature_c=temperature_c,
                                    time_constant_s=time_constant_s)
            for servo_id in sorted(servo_ids)
        }
        self._physics_period_s = physics_period_s
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None  # what killed the bus thread, if anything
        self._parser = InstructionParser()
        self._master_fd, self._slave_fd = os.openpty()
        # Raw mode: no echo, no CR/LF translation, no flow-control bytes. The slave fd stays
        # open for the emulator's lifetime so the pty survives the driver closing its port.
        tty.setraw(self._slave_fd)
        self.port_name = os.ttyname(self._slave_fd)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> EmulatedDynamixelBus:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="dynamixel-emulator",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and close the pty; safe to call twice.

        Re-raises, as RuntimeError, an exception that killed the bus thread: otherwise an
        emulator bug would only show up as mysterious driver timeouts.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for fd in (self._master_fd, self._slave_fd):
            if fd >= 0:
                os.close(fd)
        self._master_fd = self._slave_fd = -1
        crash, self._crash = self._crash, None
        if crash is not None:
            raise RuntimeError("the emulated Dynamixel bus thread crashed") from crash

    def __enter__(self) -> EmulatedDynamixelBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test API --------------------------------------------------------------------------
    def inject(self, servo_id: int, fault: Fault) -> None:
        """Make one servo misbehave until :meth:`clear`.

        ``"timeout"``: it stops answering (and hears nothing). ``"crc"``: its status
        packets carry a wrong CRC. ``"hardware_error"``: it reports an overload (alert bit
        in every status packet, Hardware Error Status set, torque cut).
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {', '.join(FAULTS)}")
        with self._lock:
            servo = self._servo(servo_id)
            servo.faults.add(fault)
            if fault == "hardware_error":
                servo.raise_hardware_error()

    def clear(self, servo_id: int | None = None) -> None:
        """Remove injected faults from one servo, or from all of them."""
        with self._lock:
            targets = self._servos.values() if servo_id is None else [self._servo(servo_id)]
            for servo in targets:
                servo.clear_faults()

    @property
    def goal_history(self) -> dict[int, list[int]]:
        """Every goal position (ticks) each servo received, in order, accepted or not."""
        with self._lock:
            return {servo_id: list(servo.goals_received)
                    for servo_id, servo in self._servos.items()}

    def register(self, servo_id: int, register: ct.Register) -> int:
        """The current value of one register of one servo."""
        with self._lock:
            return self._servo(servo_id).get(register)

    def set_present_state(self, servo_id: int, *, position_ticks: int | None = None,
                          velocity_units: int | None = None, current_units: int | None = None,
                          temperature_c: int | None = None) -> None:
        """Change what the servo senses, as the outside world would (a hand moving a limp
        joint, a motor warming up). Motion with torque on overwrites position, velocity and
        current again on the next physics step."""
        with self._lock:
            servo = self._servo(servo_id)
            if position_ticks is not None:
                servo.position = float(position_ticks)
                servo.put(ct.PRESENT_POSITION, position_ticks)
            if velocity_units is not None:
                servo.put(ct.PRESENT_VELOCITY, velocity_units)
            if current_units is not None:
                servo.put(ct.PRESENT_CURRENT, current_units)
            if temperature_c is not None:
                servo.put(ct.PRESENT_TEMPERATURE, temperature_c)

    def _servo(self, servo_id: int) -> EmulatedServo:
        try:
            return self._servos[servo_id]
        except KeyError:
            raise KeyError(f"no emulated servo with id {servo_id}; "
                           f"ids: {', '.join(map(str, self._servos))}") from None

    # --- bus thread ------------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            self._serve_until_stopped()
        except BaseException as exc:  # reported by stop()
            self._crash = exc

    def _serve_until_stopped(self) -> None:
        last_step = time.monotonic()
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._master_fd], [], [], self._physics_period_s)
            with self._lock:
                now = time.monotonic()
                for servo in self._servos.values():
                    servo.step(now - last_step)
                last_step = now
                replies = self._receive() if readable else b""
            if replies:
                self._send(replies)

    def _receive(self) -> bytes:
        """Read what the host sent and return the status packets that answer it."""
        try:
            data = os.read(self._master_fd, 4096)
        except OSError:  # the pty is being torn down
            return b""
        return b"".join(self._answer(packet) for packet in self._parser.feed(data))

    def _send(self, data: bytes) -> None:
        while data:
            written = os.write(self._master_fd, data)
            data = data[written:]

    def _answer(self, packet: InstructionPacket) -> bytes:
        if packet.servo_id == BROADCAST_ID:
            return self._answer_broadcast(packet)
        servo = self._servos.get(packet.servo_id)
        if servo is None or "timeout" in servo.faults:
            return b""
        if not packet.crc_ok:
            return self._status(servo, ERROR_CRC)
        params = packet.params
        if packet.instruction == INSTRUCTION_PING:
            return self._ping_reply(servo)
        if packet.instruction == INSTRUCTION_READ:
            if len(params) != 4:
                return self._status(servo, ERROR_DATA_LENGTH)
            address, length = _word(params, 0), _word(params, 2)
            error, data = servo.read(address, length)
            return self._status(servo, error, data)
        if packet.instruction == INSTRUCTION_WRITE:
            if len(params) < 3:
                return self._status(servo, ERROR_DATA_LENGTH)
            return self._status(servo, servo.write(_word(params, 0), params[2:]))
        return self._status(servo, ERROR_INSTRUCTION)

    def _answer_broadcast(self, packet: InstructionPacket) -> bytes:
        if not packet.crc_ok:
            return b""  # nobody answers a corrupt broadcast
        if packet.instruction == INSTRUCTION_PING:
            return b"".join(self._ping_reply(servo) for servo in self._answering_servos())
        if packet.instruction == INSTRUCTION_SYNC_READ:
            return self._answer_sync_read(packet.params)
        if packet.instruction == INSTRUCTION_SYNC_WRITE:
            self._apply_sync_write(packet.params)
        return b""

    def _answer_sync_read(self, params: bytes) -> bytes:
        """Each listed servo answers in the order the instruction lists it, as on a real
        bus where every servo waits for the previous one's status packet."""
        address, length = _word(params, 0), _word(params, 2)
        replies = []
        for servo_id in params[4:]:
            servo = self._servos.get(servo_id)
            if servo is None or "timeout" in servo.faults:
                continue
            error, data = servo.read(address, length)
            replies.append(self._status(servo, error, data))
        return b"".join(replies)

    def _apply_sync_write(self, params: bytes) -> None:
        """SYNC_WRITE has no status packet, so refused data is silently dropped."""
        address, length = _word(params, 0), _word(params, 2)
        entry = 1 + length
        for start in range(4, len(params) - entry + 1, entry):
            servo = self._servos.get(params[start])
            if servo is not None and "timeout" not in servo.faults:
                servo.write(address, params[start + 1:start + entry])

    def _answering_servos(self) -> list[EmulatedServo]:
        return [s for s in self._servos.values() if "timeout" not in s.faults]

    def _ping_reply(self, servo: EmulatedServo) -> bytes:
        params = servo.get(ct.MODEL_NUMBER).to_bytes(2, "little")
        params += bytes([servo.get(ct.FIRMWARE_VERSION)])
        return self._status(servo, ERROR_NONE, params)

    @staticmethod
    def _status(servo: EmulatedServo, error_number: int, params: bytes = b"") -> bytes:
        return build_status_packet(servo.servo_id, servo.status_error(error_number), params,
                                   corrupt_crc="crc" in servo.faults)


def _word(params: bytes, offset: int) -> int:
    return int.from_bytes(params[offset:offset + 2], "little")
