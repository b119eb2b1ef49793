"""The webhook URL policy: schemes, credentials, the host allow-list and DNS rebinding.

No traffic and no DNS lookup of a public name: hosts are IP literals, "localhost", or names an
injected resolver answers."""

from __future__ import annotations

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.webhooks.urls import HostUnresolvable, Resolver, UrlPolicy


def fake_resolver(table: dict[str, list[str]]) -> tuple[list[str], Resolver]:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return asked, resolve


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook",
    "https://127.10.20.30/x?y=1",
    "http://[::1]:9000/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped: judged as 127.0.0.1
    "HTTP://127.0.0.1/",
])
def test_default_policy_allows_loopback_addresses(url: str) -> None:
    policy = UrlPolicy()
    assert policy.problems(url) == []
    target = policy.check(url)
    assert target.url == url and target.addresses == ()  # an IP literal: connected to as it is


def test_localhost_resolves_to_loopback_only() -> None:
    target = UrlPolicy().check("http://localhost:1234/hook")  # the hosts file, no network lookup
    assert target.host == "localhost"
    assert target.addresses and all(a in ("127.0.0.1", "::1") for a in target.addresses)


@pytest.mark.parametrize("url", ["http://203.0.113.5/hook", "https://10.0.0.1/", "http://[2001:db8::1]/",
                                 "http://[::ffff:203.0.113.5]/", "http://0.0.0.0/"])
def test_addresses_outside_the_allow_list_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        UrlPolicy().check(url)
    assert refused.value.code == 400
    assert len(refused.value.problems) == 1 and "not in the webhook allow-list" in refused.value.problems[0]


def test_every_problem_is_listed() -> None:
    with pytest.raises(InvalidRequest) as refused:
        UrlPolicy().check("ftp://user:pass@203.0.113.5:21/file")
    problems = refused.value.problems
    assert len(problems) == 3, problems
    assert "scheme 'ftp'" in problems[0]
    assert "credentials" in problems[1]
    assert "203.0.113.5" in problems[2]


@pytest.mark.parametrize(("url", "expected"), [
    ("file:///etc/passwd", ["scheme 'file'", "no host"]),
    ("javascript:alert(1)", ["scheme 'javascript'", "no host"]),
    ("http://user@127.0.0.1/", ["credentials"]),
    ("http://:secret@127.0.0.1/", ["credentials"]),
    ("http:///path", ["no host"]),
    ("http://127.0.0.1:99999/", ["port"]),
    ("http://127.0.0.1/a b", ["whitespace"]),
    ("", ["non-empty string"]),
    ("http://" + "a" * 3000, ["longer than"]),
])
def test_malformed_urls_are_refused(url: str, expected: list[str]) -> None:
    problems = UrlPolicy().problems(url)
    assert len(problems) == len(expected), problems
    for problem, words in zip(problems, expected):
        assert words in problem


def test_a_non_string_url_is_refused() -> None:
    assert UrlPolicy().problems(None) == ["the URL must be a non-empty string"]


def test_unlisted_names_are_refused_without_a_lookup() -> None:
    asked, resolve = fake_resolver({"evil.example": ["127.0.0.1"]})
    policy = UrlPolicy(resolver=resolve)
    for url in ("http://evil.example/", "http://127.1/", "http://2130706433/"):
        problems = policy.problems(url)
        assert len(problems) == 1 and "not in the webhook allow-list" in problems[0], problems
    assert asked == []


def test_a_listed_name_must_resolve_only_to_allowed_addresses() -> None:
    asked, resolve = fake_resolver({
        "hooks.internal": ["10.1.2.3", "10.1.2.4"],
        "rebound.internal": ["10.1.2.3", "169.254.169.254"],
    })
    policy = UrlPolicy(["hooks.internal", "rebound.internal", "10.1.0.0/16"], resolve)
    assert policy.check("https://HOOKS.internal./x").addresses == ("10.1.2.3", "10.1.2.4")
    with pytest.raises(InvalidRequest) as refused:
        policy.check("https://rebound.internal/x")
    assert refused.value.problems == [
        "the host 'rebound.internal' resolves to 169.254.169.254, not in the webhook allow-list"]
    assert asked == ["hooks.internal", "rebound.internal"]


def test_a_listed_name_that_does_not_resolve_is_a_distinct_error() -> None:
    _, resolve = fake_resolver({})
    policy = UrlPolicy(["hooks.internal", "10.0.0.0/8"], resolve)
    with pytest.raises(HostUnresolvable) as refused:
        policy.check("http://hooks.internal/")
    assert "could not be resolved" in refused.value.problems[0]
    # With another problem too it is a plain refusal: retrying would not help.
    with pytest.raises(InvalidRequest) as refused_too:
        policy.check("ftp://hooks.internal/")
    assert not isinstance(refused_too.value, HostUnresolvable)
    assert len(refused_too.value.problems) == 2


def test_allow_list_entries_are_networks_addresses_or_names() -> None:
    policy = UrlPolicy(["192.168.1.0/24", "fd00::7", "printer.lan"])
    assert policy.address_allowed("192.168.1.200")
    assert policy.address_allowed("fd00::7")
    assert not policy.address_allowed("192.168.2.1")
    assert not policy.address_allowed("127.0.0.1")  # the default list is replaced, not extended
    with pytest.raises(InvalidRequest) as bad:
        UrlPolicy(["10.0.0.0/33", "two words", ""])
    assert len(bad.value.problems) == 3
