"""Limiter: motor over-temperature (with hysteresis) and latched bus faults stop joints."""

from embodied_ai.hardware.base import BusFault, HardwareSnapshot, JointReading
from embodied_ai.safety.config import TemperatureLimits
from embodied_ai.safety.monitor import FaultMonitor


def snapshot(temperature=30.0, faults=None):
    return HardwareSnapshot(
        stamp=0.0,
        joints={"elbow_pitch_r": JointReading(0.0, 0.0, 0.0, temperature)},
        faults=faults or {},
        fault_details={j: "no status packet" for j in (faults or {})},
    )


def test_over_temperature_stops_until_cooled_below_resume():
    monitor = FaultMonitor(TemperatureLimits(warn_c=60, limit_c=70, resume_c=60))
    assert monitor.update(snapshot(65)) == set()
    assert "elbow_pitch_r" in monitor.warnings(snapshot(65))
    assert monitor.update(snapshot(71)) == {"elbow_pitch_r"}
    assert "over-temperature 71.0 C > 70.0 C" in monitor.faults["elbow_pitch_r"]
    monitor.update(snapshot(65))  # cooling, but not yet below resume
    assert "elbow_pitch_r" in monitor.faults
    monitor.update(snapshot(59))
    assert monitor.faults == {}


def test_bus_faults_latch_until_reset():
    monitor = FaultMonitor(TemperatureLimits())
    assert monitor.update(snapshot(faults={"head_pan": BusFault.CRC_ERROR})) == {"head_pan"}
    assert monitor.faults["head_pan"] == "bus fault: crc_error (no status packet)"
    monitor.update(snapshot())  # communication is back, fault stays
    assert "head_pan" in monitor.faults
    monitor.reset_bus_faults()
    assert monitor.faults == {}
