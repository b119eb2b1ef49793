"""Which URLs may receive webhook deliveries.

A webhook makes this process send requests to a URL a caller chose, so the URL is held to a
policy: http or https only, a host, no credentials in the URL, and a host in the configured
allow-list. Allow-list entries are host names, IP addresses or CIDR networks; the default allows
loopback only.

- An IP literal must lie in a listed address or network.
- A host name must be listed by name, and EVERY address it resolves to must lie in a listed
  address or network: a listed name cannot be pointed (DNS rebinding) at an address the
  operator did not allow. Unlisted names are refused without being looked up.

``resolve`` returns the checked addresses so the sender connects to exactly those, not to
whatever a second lookup answers.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from embodied_ai.errors import InvalidRequest

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.0/8", "::1", "localhost")
SCHEMES: tuple[str, ...] = ("http", "https")
MAX_URL_LENGTH = 2048

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host name -> its addresses as strings (raises OSError when the name does not resolve).
Resolver = Callable[[str], list[str]]


def system_resolver(host: str) -> list[str]:
    """The host's addresses as the operating system resolves them, in its preference order."""
    found: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def _ip(text: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    # ::ffff:10.0.0.1 reaches 10.0.0.1: judge it as the IPv4 address it is.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _host_name(text: str) -> str:
    return text.strip().rstrip(".").lower()


@dataclass(frozen=True)
class Target:
    """A URL that passed the policy, with the addresses to connect to (empty for an IP literal)."""

    url: str
    host: str
    addresses: tuple[str, ...]


class HostUnresolvable(InvalidRequest):
    """The URL's only problem is that its (allowed) host name did not resolve: may be transient."""


class UrlPolicy:
    def __init__(self, allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
                 resolver: Resolver = system_resolver) -> None:
        self._networks: list[IpNetwork] = []
        self._names: set[str] = set()
        problems: list[str] = []
        for entry in allowed_hosts:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
                continue
            except ValueError:
                pass
            name = _host_name(entry)
            if not name or any(c.isspace() or c in "/:@[]" for c in name):
                problems.append(f"allow-list entry '{entry}' is neither a host name, an IP address nor a CIDR network")
            else:
                self._names.add(name)
        if problems:
            raise InvalidRequest("the webhook host allow-list is invalid", problems)
        self._resolver = resolver

    def address_allowed(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip.version == net.version and ip in net for net in self._networks)

    def problems(self, url: object) -> list[str]:
        """Every reason the URL is refused (empty when it is allowed)."""
        return self._check(url)[0]

    def check(self, url: object) -> Target:
        """The URL as a Target, or InvalidRequest listing every problem."""
        problems, target, unresolved = self._check(url)
        if problems or target is None:
            error = HostUnresolvable if unresolved and len(problems) == 1 else InvalidRequest
            raise error(f"webhook URL refused: {'; '.join(problems)}", problems)
        return target

    def _check(self, url: object) -> tuple[list[str], Target | None, bool]:
        if not isinstance(url, str) or not url:
            return ["the URL must be a non-empty string"], None, False
        if len(url) > MAX_URL_LENGTH:
            return [f"the URL is longer than {MAX_URL_LENGTH} characters"], None, False
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
            return ["the URL must not contain whitespace or control characters"], None, False
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            return [f"the URL cannot be parsed ({exc})"], None, False
        problems: list[str] = []
        if parts.scheme.lower() not in SCHEMES:
            problems.append(f"the scheme '{parts.scheme}' is not allowed: only http and https")
        if parts.username is not None or parts.password is not None:
            problems.append("the URL must not carry credentials (user:password@)")
        try:
            _ = parts.port  # raises ValueError for a port out of range or not a number
        except ValueError:
            problems.append("the URL's port is not a number from 0 to 65535")
        host = parts.hostname
        if not host:
            problems.append("the URL has no host")
            return problems, None, False
        addresses, host_problems, unresolved = self._host(host)
        problems += host_problems
        if problems:
            return problems, None, unresolved
        return [], Target(url=url, host=host, addresses=addresses), False

    def _host(self, host: str) -> tuple[tuple[str, ...], list[str], bool]:
        """(addresses to connect to, problems, whether the name failed to resolve)."""
        if _ip(host) is not None:
            if self.address_allowed(host):
                return (), [], False
            return (), [f"the host {host} is not in the webhook allow-list"], False
        name = _host_name(host)
        if name not in self._names:
            return (), [f"the host '{host}' is not in the webhook allow-list"], False
        try:
            addresses = self._resolver(name)
        except OSError as exc:
            return (), [f"the host '{host}' could not be resolved ({exc})"], True
        if not addresses:
            return (), [f"the host '{host}' could not be resolved (no addresses)"], True
        refused = [a for a in addresses if not self.address_allowed(a)]
        if refused:
            return (), [f"the host '{host}' resolves to {', '.join(refused)}, not in the webhook allow-list"], False
        return tuple(addresses), [], False


def pinned_url(parts: SplitResult, address: str) -> str:
    """The URL with its host replaced by one checked address (IPv6 in brackets), port kept."""
    ip = address.split("%", 1)[0]
    host = f"[{ip}]" if ":" in ip else ip
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return parts._replace(netloc=netloc).geturl()
