"""Limiter: a command stream that falls silent past the timeout has expired."""

import pytest

from embodied_ai.safety.watchdog import Watchdog


def test_watchdog_expires_only_after_the_timeout(clock):
    dog = Watchdog(0.5, clock)
    assert not dog.expired()  # disarmed
    dog.kick()
    clock.advance(0.49)
    assert not dog.expired()
    clock.advance(0.02)
    assert dog.expired()
    dog.kick()
    assert not dog.expired()
    dog.disarm()
    clock.advance(10)
    assert not dog.expired()


def test_watchdog_needs_a_positive_timeout(clock):
    with pytest.raises(ValueError):
        Watchdog(0.0, clock)
