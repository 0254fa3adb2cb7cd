"""Downloading a file to play, without becoming a proxy into our own network.

A URL is fetched only when its host is public: every address the name
resolves to must be globally routable (not private, loopback, link-local,
multicast, reserved or shared; an IPv6 address that carries an IPv4 one, such
as NAT64, 6to4, Teredo or ::a.b.c.d, is judged by the IPv4 address inside),
unless the host name (or literal address) is listed in MEDIA_HOSTS. The name is resolved once and the connection goes to
that checked address (TLS still verifies the name), so DNS rebinding between
check and use is not possible. Redirects are followed (at most three) and each
target is checked the same way. Size (MEDIA_MAX_BYTES) and time
(MEDIA_TIMEOUT, for the whole download) are bounded. Failures are MediaError
with a message safe to store: no remote host's internals.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3

from streams.offload import in_gevent
from streams.session.media_files import MediaError

MAX_REDIRECTS = 3
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (blocking; gevent's resolver under the service)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise MediaError(f"{host} does not resolve") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translator, never public


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64, IPv4-compatible); None if none.

    Where such routes exist, these reach the IPv4 address inside (#25.10), so that one is checked.
    """
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the server and the client
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in NAT64:
        return [low32]
    if ip in LOCAL_NAT64:
        return [ipaddress.IPv4Address("0.0.0.0")]  # where the address sits depends on the network: never public
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (:: and ::1 are themselves)
        return [low32]
    return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inside = embedded_ipv4(ip)
        if inside is not None:
            return all(v4.is_global and not v4.is_multicast for v4 in inside)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 10.0
    resolver: Resolver = resolve
    ca_certs: str | None = None  # default: certifi's bundle

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FetchPolicy:
        return cls(
            allowed_hosts=frozenset(h.lower() for h in config.get("MEDIA_HOSTS", ())),
            max_bytes=int(config.get("MEDIA_MAX_BYTES", cls.max_bytes)),
            timeout=float(config.get("MEDIA_TIMEOUT", cls.timeout)),
        )

    def address_for(self, host: str, port: int) -> str:
        """The checked address to connect to; MediaError when the host is not one we may fetch from."""
        addresses = self.resolver(host, port)
        if not addresses:
            raise MediaError(f"{host} does not resolve")
        if host.lower() not in self.allowed_hosts and not all(is_public(a) for a in addresses):
            raise MediaError(f"{host} is not a public host (add it to MEDIA_HOSTS to allow it)")
        return addresses[0]


def _pool(scheme: str, host: str, address: str, port: int, policy: FetchPolicy, timeout: float) -> Any:
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        import certifi

        return urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=limits,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=policy.ca_certs or certifi.where(),
        )
    return urllib3.HTTPConnectionPool(address, port, timeout=limits, retries=False)


def _read(response: Any, policy: FetchPolicy, deadline: float) -> bytes:
    """The body, one socket read at a time, each read given only what is left of the deadline.

    ``stream(64 KiB)`` waited for 64 KiB (or a read timeout that every byte restarts), so a
    server sending a byte a second kept a 3 s fetch going past 25 s (#25.9).
    """
    data = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MediaError("the file took too long to fetch")
        sock = getattr(response.connection, "sock", None)
        if sock is not None:
            sock.settimeout(remaining)
        part = response.read1(64 * 1024)
        if not part:
            return bytes(data)
        data.extend(part)
        if len(data) > policy.max_bytes:
            raise MediaError(f"the file is larger than {policy.max_bytes} bytes")


def _get(url: str, policy: FetchPolicy, deadline: float) -> tuple[str | None, bytes]:
    """One GET: (the redirect target, b"") or (None, the body)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MediaError("only http(s) URLs can be fetched")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise MediaError("the URL has a bad port") from None
    address = policy.address_for(parts.hostname, port)
    pool = _pool(parts.scheme, parts.hostname, address, port, policy, max(0.1, deadline - time.monotonic()))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with pool:
            response = pool.urlopen(
                "GET", target, headers={"Host": parts.netloc.rsplit("@", 1)[-1]}, redirect=False, preload_content=False
            )
            try:
                if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                    return urljoin(url, response.headers["Location"]), b""
                if response.status != 200:
                    raise MediaError(f"the file could not be fetched (HTTP {response.status})")
                return None, _read(response, policy, deadline)
            finally:
                response.release_conn()
    except urllib3.exceptions.NewConnectionError:  # refused, unreachable (a ConnectTimeoutError subclass)
        raise MediaError("the file could not be fetched") from None
    except urllib3.exceptions.TimeoutError:
        raise MediaError("the file took too long to fetch") from None
    except urllib3.exceptions.HTTPError:
        raise MediaError("the file could not be fetched") from None


def fetch(url: str, policy: FetchPolicy) -> bytes:
    """The bytes at ``url``, if policy allows its host(s); MediaError otherwise.

    MEDIA_TIMEOUT bounds the whole of it (resolving, connecting, redirects, headers, body): every
    read gets what is left of one deadline, and under gevent a gevent.Timeout ends it outright,
    even inside a header line sent a byte at a time.
    """
    deadline = time.monotonic() + policy.timeout
    if not in_gevent():
        return _follow(url, policy, deadline)
    import gevent

    with gevent.Timeout(policy.timeout, MediaError("the file took too long to fetch")):
        return _follow(url, policy, deadline)


def _follow(url: str, policy: FetchPolicy, deadline: float) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        location, data = _get(url, policy, deadline)
        if location is None:
            return data
        url = location
    raise MediaError("the file could not be fetched (too many redirects)")


def media_fetcher(config: Mapping[str, Any]) -> Callable[[str], bytes]:
    """``fetch`` bound to the configured policy, for MediaFiles."""
    policy = FetchPolicy.from_config(config)
    return lambda url: fetch(url, policy)
