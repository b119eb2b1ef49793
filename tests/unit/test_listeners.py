"""A store's event listeners: subscribing, unsubscribing, a failing listener."""

from __future__ import annotations

import logging

import pytest

from embodied_ai.listeners import Listeners

log = logging.getLogger("tests.listeners")


def _listeners() -> Listeners[int]:
    return Listeners(log, lambda item: f"item {item}")


def test_every_listener_is_called_in_the_order_it_subscribed() -> None:
    listeners = _listeners()
    calls: list[tuple[str, int, str]] = []
    listeners.add(lambda item, event: calls.append(("a", item, event)))
    listeners.add(lambda item, event: calls.append(("b", item, event)))
    listeners.emit(7, "thing.done")
    assert calls == [("a", 7, "thing.done"), ("b", 7, "thing.done")]


def test_emitting_with_no_listener_does_nothing() -> None:
    _listeners().emit(1, "thing.done")


def test_an_unsubscribed_listener_is_not_called_again() -> None:
    listeners = _listeners()
    calls: list[int] = []
    unsubscribe = listeners.add(lambda item, event: calls.append(item))
    listeners.emit(1, "e")
    unsubscribe()
    unsubscribe()   # a second call does nothing
    listeners.emit(2, "e")
    assert calls == [1]


def test_unsubscribing_removes_only_that_subscription() -> None:
    listeners = _listeners()
    calls: list[str] = []
    listeners.add(lambda item, event: calls.append("kept"))
    unsubscribe = listeners.add(lambda item, event: calls.append("gone"))
    unsubscribe()
    listeners.emit(1, "e")
    assert calls == ["kept"]


def test_a_listener_may_unsubscribe_while_it_runs() -> None:
    listeners = _listeners()
    calls: list[str] = []

    def once(item: int, event: str) -> None:
        calls.append("once")
        unsubscribe()

    unsubscribe = listeners.add(once)
    listeners.add(lambda item, event: calls.append("always"))
    listeners.emit(1, "e")
    listeners.emit(2, "e")
    assert calls == ["once", "always", "always"]


def test_a_failing_listener_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    listeners = _listeners()
    calls: list[str] = []

    def broken(item: int, event: str) -> None:
        raise RuntimeError("subscriber bug")

    listeners.add(lambda item, event: calls.append("before"))
    listeners.add(broken)
    listeners.add(lambda item, event: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="tests.listeners"):
        listeners.emit(3, "thing.failed")   # does not raise
    assert calls == ["before", "after"]
    [record] = [r for r in caplog.records if r.name == "tests.listeners"]
    assert record.getMessage() == "a listener of thing.failed for item 3 failed"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
