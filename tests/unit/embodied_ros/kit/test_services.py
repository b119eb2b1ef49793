"""A Trigger-like service: the work's message with success, a refusal's reason without."""

import pytest
from std_srvs.srv import Trigger

from embodied_ai.errors import SafetyViolation
from embodied_ros.kit.services import reply


def answer(work) -> Trigger.Response:
    return reply(work)(Trigger.Request(), Trigger.Response())


def test_the_works_message_is_the_reply():
    assert (answer(lambda _: "emergency stop latched").success, answer(lambda _: "done").message) == (True, "done")


@pytest.mark.parametrize("refusal", [SafetyViolation("not while moving"), ValueError("not while moving"),
                                     KeyError("not while moving")])
def test_a_refusal_is_a_reply_with_its_reason(refusal):
    def work(_request) -> str:
        raise refusal
    response = answer(work)
    assert not response.success and "not while moving" in response.message


def test_a_bug_is_not_hidden_in_a_reply():
    with pytest.raises(ZeroDivisionError):
        answer(lambda _: str(1 / 0))
