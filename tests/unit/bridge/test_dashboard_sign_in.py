"""The dashboard's sign-in in a real headless Chromium against the real bridge app (no ROS graph):
while a user exists the pages need credentials; a wrong password is refused without a hint, the
right one puts the user's access token where an API key goes, and the jobs list then loads."""

from __future__ import annotations

from pathlib import Path

from embodied_ai.bridge.users import UserStore
from tests.browser import wait_for
from tests.unit.bridge.served import served_bridge


def test_a_user_signs_in_and_the_page_uses_the_token(browser, tmp_path: Path) -> None:
    UserStore.in_state_dir(tmp_path).create("ann", "correct horse battery", "viewer")
    with served_bridge(tmp_path) as url:
        browser.get(f"{url}/dashboard/jobs.html")
        text = lambda element_id: browser.find_element("id", element_id).text  # noqa: E731
        wait_for(lambda: "401" in text("jobs-total"), 10, "the jobs list refused without credentials")

        def sign_in(password: str) -> None:
            for element_id, value in (("username", "ann"), ("password", password)):
                field = browser.find_element("id", element_id)
                field.clear()
                field.send_keys(value)
            browser.find_element("css selector", "#sign-in button").click()

        sign_in("wrong")
        wait_for(lambda: "Invalid credentials" in text("signed-in"), 10, "the refusal")
        assert browser.find_element("id", "api-key").get_attribute("value") == ""
        sign_in("correct horse battery")
        wait_for(lambda: text("signed-in") == "signed in as ann (viewer)", 10, "the sign-in")
        token = browser.find_element("id", "api-key").get_attribute("value")
        assert token.count(".") == 2   # a JWT, not the password
        assert browser.find_element("id", "password").get_attribute("value") == ""
        wait_for(lambda: text("jobs-total") == "0 of 0", 10, "the jobs list with the token")
