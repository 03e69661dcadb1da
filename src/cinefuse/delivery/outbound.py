"""The outbound guard: the one way server-side requests leave cinefuse (docs/api.md 4.4).

Image URL fetches, webhook calls and result uploads all go through ``OutboundClient``, so
a client cannot point the server at its own loopback, the private network around it, or
a cloud metadata service (server-side request forgery).

For every request (and every redirect hop):

1. The URL must be ``http``/``https`` with a host and no user info; any port is fine.
2. The host is resolved once (``socket.getaddrinfo``) and *every* address it resolves to
   is checked; one forbidden address refuses the request. Forbidden: loopback, private
   (RFC 1918, CGNAT 100.64/10, ULA fc00::/7), link-local, multicast, unspecified,
   reserved/documentation/benchmarking ranges, broadcast, cloud metadata addresses, and
   IPv6 forms that embed a forbidden IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
   IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``).
3. The connection goes to the checked address: the URL's host is replaced by that IP
   while the ``Host`` header and TLS SNI (and certificate check) keep the original name,
   so a second DNS answer (DNS rebinding) can never redirect it.

An operator policy (``CINEFUSE_OUTBOUND_ALLOW``, see ``OutboundPolicy``) lets named hosts,
addresses or ranges through; the test suite uses it to reach 127.0.0.1.

Exceptions::

    OutboundError              the request did not produce a usable reply
    ├── OutboundRefused        the guard refused the URL (nothing was sent), .reason
    ├── OutboundTimeout        connect or total deadline passed
    ├── OutboundTooLarge       the body passed max_bytes (fetch)
    ├── OutboundHTTPError      a non-2xx final status (fetch), .status
    └── OutboundNetworkError   DNS failure, refused/reset connection, TLS or protocol error

These are not API errors: callers map them (an image fetch to ``invalidImage``, a webhook
to a delivery failure that may be retried).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import idna

from cinefuse import __version__

DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds
DEFAULT_TOTAL_TIMEOUT = 30.0  # seconds, the whole exchange including redirects and body
DEFAULT_MAX_REDIRECTS = 3
MAX_REPLY_BYTES = 64 * 1024  # what ``send`` keeps of a reply body: receivers' replies are only logged
USER_AGENT = f"cinefuse/{__version__}"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_PORT = 65535
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HOSTNAME_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
# Headers describing the wire framing of a body that ``send`` has already decoded and cut.
_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

# Instance metadata services (AWS, AWS ECS, AWS IPv6, Alibaba). They sit inside forbidden
# ranges anyway; they are named so that allowing a whole range never exposes them (only an
# exact address in the policy does) and so that refusals say what was hit.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)

# Checked in order, first match names the reason. ``is_global`` catches the remainder
# (its table differs between Python versions, hence this explicit list).
_FORBIDDEN_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

# IPv6 prefixes whose low 32 bits are an IPv4 address the packet really goes to.
_EMBEDDING_V4_LOW_BITS = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::/96",  # IPv4-compatible (deprecated); "::" and "::1" are matched before this
        "64:ff9b::/96",  # NAT64 well-known prefix
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
    )
)
_LOW_32_BITS = 0xFFFFFFFF


class OutboundError(Exception):
    """A server-side request failed; ``url`` is the URL's origin (path and query, which may
    hold tokens, are left out of messages)."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class OutboundRefused(OutboundError):
    """The guard refused the URL before anything was sent; ``reason`` says why."""

    def __init__(self, reason: str, *, url: str = "") -> None:
        super().__init__(f"refused outbound request to {url or 'URL'}: {reason}", url=url)
        self.reason = reason


class OutboundTimeout(OutboundError):
    """The connect timeout or the total deadline passed."""


class OutboundTooLarge(OutboundError):
    """The reply body is larger than the caller's ``max_bytes``."""


class OutboundHTTPError(OutboundError):
    """The final reply had a non-2xx status (``status``)."""

    def __init__(self, message: str, *, status: int, url: str = "") -> None:
        super().__init__(message, url=url)
        self.status = status


class OutboundNetworkError(OutboundError):
    """DNS resolution, connection, TLS or HTTP protocol failure (often worth a retry)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _EMBEDDING_V4_LOW_BITS):
        return ipaddress.IPv4Address(int(address) & _LOW_32_BITS)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None when it is."""
    if address in METADATA_ADDRESSES:
        return f"cloud metadata address {address}"
    for net, label in _FORBIDDEN_NETWORKS:
        if address in net:
            return f"{label} address {address}"
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            inner_reason = forbidden_reason(inner)
            return f"{address} embeds {inner_reason}" if inner_reason else None
    if not address.is_global:
        return f"non-public address {address}"
    return None


def _normalize_host(host: str) -> str:
    return host.lower().rstrip(".")


@dataclass(frozen=True)
class OutboundPolicy:
    """Destinations let through although their addresses are forbidden.

    ``hosts``: host names whose every resolved address is accepted (exact, case-insensitive
    match; no wildcards). ``networks``: addresses and ranges accepted whatever name led to
    them. A cloud metadata address is accepted only when listed as a single address, never
    through a wider range. The default policy allows nothing extra.
    """

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_setting(cls, allow: str | Sequence[str]) -> OutboundPolicy:
        """Parse ``CINEFUSE_OUTBOUND_ALLOW``: comma-separated (or listed) host names, IP
        addresses (IPv6 with or without brackets) and CIDR ranges, e.g.
        ``"127.0.0.1, 10.0.0.0/8, localhost, ::1"``. Raises ``ValueError`` for anything else."""
        entries = [allow] if isinstance(allow, str) else list(allow)
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            for raw in entry.split(","):
                item = raw.strip()
                if not item:
                    continue
                bare = item[1:-1] if item.startswith("[") and item.endswith("]") else item
                try:
                    networks.append(ipaddress.ip_network(bare, strict=False))
                    continue
                except ValueError:
                    pass
                host = _normalize_host(item)
                if not _HOSTNAME_RE.fullmatch(host):
                    raise ValueError(f"outbound allow entry is not a host, address or range: {item!r}")
                hosts.add(host)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return _normalize_host(host) in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        exact_only = address in METADATA_ADDRESSES
        if any(address in net and (net.num_addresses == 1 or not exact_only) for net in self.networks):
            return True
        if isinstance(address, ipaddress.IPv6Address):
            inner = _embedded_ipv4(address)
            return inner is not None and self.allows_address(inner)
        return False


@dataclass(frozen=True)
class PinnedTarget:
    """A checked URL and the address its connection must go to.

    Send ``request_url`` with ``headers`` and ``extensions``: the socket connects to
    ``address`` while HTTP ``Host`` and TLS SNI (hence certificate validation) use the name.
    """

    url: httpx.URL
    address: IPAddress
    addresses: tuple[IPAddress, ...]  # everything the name resolved to, all checked

    @property
    def hostname(self) -> str:
        return self.url.host

    @property
    def request_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.url.netloc.decode("ascii")}

    @property
    def extensions(self) -> dict[str, Any]:
        if self.url.scheme == "https" and _ip_literal(self.url.host) is None:
            return {"sni_hostname": self.url.host}
        return {}


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def origin(url: httpx.URL) -> str:
    """``scheme://host[:port]``: what error messages and logs may show of a URL."""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def loggable_url(url: str) -> str:
    """``scheme://host[:port]/path``: a client's URL as logs may show it. The query (presigned
    signatures, tokens) and any user info are left out: they are credentials."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return "<invalid URL>"
    host = parsed.host + (f":{parsed.port}" if parsed.port else "")
    return f"{parsed.scheme}://{host}{parsed.path}"


def _parse(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoding an xn-- label can fail here
    except (httpx.InvalidURL, idna.IDNAError, UnicodeError) as exc:
        raise OutboundRefused(f"invalid URL: {exc}") from exc
    if parsed.scheme not in _ALLOWED_SCHEMES:
        raise OutboundRefused(f"scheme {parsed.scheme!r} is not http or https", url=origin(parsed))
    if not host:
        raise OutboundRefused("the URL has no host", url=origin(parsed))
    if parsed.userinfo:
        raise OutboundRefused("user info in URLs is not accepted", url=origin(parsed))
    if parsed.port is not None and not 0 < parsed.port <= _MAX_PORT:
        raise OutboundRefused(f"port {parsed.port} is out of range", url=origin(parsed))
    return parsed


def _follow(current: httpx.URL, location: str) -> httpx.URL:
    """The URL a redirect's ``Location`` points at, resolved against the named (not pinned) URL."""
    try:
        return current.join(location)
    except httpx.InvalidURL as exc:
        raise OutboundRefused(f"invalid redirect location: {exc}", url=origin(current)) from exc


def resolve_and_check(url: str | httpx.URL, policy: OutboundPolicy) -> PinnedTarget:
    """Resolve ``url``'s host once, check every address, and pin the first one.

    Blocking (DNS): async code calls it through ``asyncio.to_thread``. Raises
    ``OutboundRefused`` (bad URL or forbidden address) or ``OutboundNetworkError``
    (the name does not resolve).
    """
    parsed = _parse(url)
    host = parsed.host
    literal = _ip_literal(host)
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
    else:
        port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise OutboundNetworkError(f"cannot resolve {host}: {exc}", url=origin(parsed)) from exc
        # dict.fromkeys: drop duplicates, keep the resolver's preference order.
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not policy.allows_host(host):
        for address in addresses:
            reason = forbidden_reason(address)
            if reason is not None and not policy.allows_address(address):
                where = reason if literal is not None else f"{host} resolves to {reason}"
                raise OutboundRefused(where, url=origin(parsed))
    return PinnedTarget(parsed, addresses[0], addresses)


@contextmanager
def _network_errors(url: httpx.URL, deadline: float) -> Iterator[None]:
    """Translate httpx and deadline failures into this module's exceptions."""
    try:
        yield
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise OutboundTimeout(
            f"{origin(url)} did not answer within {deadline:g} s ({type(exc).__name__})", url=origin(url)
        ) from exc
    except httpx.RequestError as exc:
        raise OutboundNetworkError(f"request to {origin(url)} failed: {exc!r}", url=origin(url)) from exc


async def _read_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the (decoded) body, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


class OutboundClient:
    """Guarded HTTP for fetches (``fetch``, ``fetch_sync``) and deliveries (``send``).

    Every call resolves and checks its destination anew and uses a fresh connection (no
    keep-alive: a pooled connection is keyed by IP, and reusing one opened for another
    host name would skip that name's certificate check). Environment proxies are ignored.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        # Built once: loading the CA bundle costs milliseconds, and the context is reusable.
        self._ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)

    def _client(self, deadline: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            verify=self._ssl_context,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(deadline, connect=min(self.connect_timeout, deadline)),
            limits=httpx.Limits(max_keepalive_connections=0),
            # identity: size caps must bound what is held in memory, not what crossed the
            # wire (a small gzip body can inflate a thousandfold inside one chunk).
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """GET ``url`` and return its body (at most ``max_bytes``).

        Redirects (up to ``max_redirects``) are followed by hand, each hop checked like the
        first. The whole exchange is bounded by ``total_timeout``. Raises
        ``OutboundRefused``, ``OutboundTimeout``, ``OutboundTooLarge``,
        ``OutboundHTTPError`` (non-2xx) or ``OutboundNetworkError``.
        """
        current = _parse(url)
        with _network_errors(current, self.total_timeout):
            async with asyncio.timeout(self.total_timeout), self._client(self.total_timeout) as client:
                for _ in range(self.max_redirects + 1):
                    target = await asyncio.to_thread(resolve_and_check, current, self.policy)
                    request = client.build_request(
                        "GET",
                        target.request_url,
                        headers=target.headers,
                        extensions=target.extensions,
                    )
                    response = await client.send(request, stream=True)
                    try:
                        location = response.headers.get("location")
                        if response.status_code in _REDIRECT_STATUSES and location:
                            current = _follow(current, location)
                            continue
                        return await self._accept(response, current, max_bytes)
                    finally:
                        await response.aclose()
        raise OutboundRefused(f"more than {self.max_redirects} redirects", url=origin(current))

    @staticmethod
    async def _accept(response: httpx.Response, url: httpx.URL, max_bytes: int) -> bytes:
        if not response.is_success:
            raise OutboundHTTPError(
                f"{origin(url)} answered HTTP {response.status_code}",
                status=response.status_code,
                url=origin(url),
            )
        declared = response.headers.get("content-length", "")
        # A declared length over the cap is refused before a byte of the body is read.
        if not (declared.isdigit() and int(declared) > max_bytes):
            body, truncated = await _read_body(response, max_bytes)
            if not truncated:
                return body
        raise OutboundTooLarge(f"{origin(url)} sent more than {max_bytes} bytes", url=origin(url))

    def fetch_sync(self, url: str, *, max_bytes: int) -> bytes:
        """``fetch`` for worker threads, with the same checks, deadline and exceptions.

        Runs ``fetch`` on a private event loop, so it must not be called from a thread
        that is already running one.
        """
        return asyncio.run(self.fetch(url, max_bytes=max_bytes))

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes = b"",
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request (webhook POST, upload PUT) and return the reply, whatever its status.

        No redirect is followed: a 3xx comes back as the reply. The body goes out with an
        explicit ``Content-Length``, never chunked (presigned S3 URLs refuse chunked PUTs).
        ``timeout`` (default ``total_timeout``) bounds the whole exchange. The reply's body
        is read (decoded) up to ``MAX_REPLY_BYTES``, the rest dropped; its framing headers
        (``Content-Length``, ``Content-Encoding``, ``Transfer-Encoding``) describe the body
        as kept. Raises ``OutboundRefused``, ``OutboundTimeout`` or ``OutboundNetworkError``.
        """
        deadline = self.total_timeout if timeout is None else timeout
        parsed = _parse(url)
        with _network_errors(parsed, deadline):
            async with asyncio.timeout(deadline), self._client(deadline) as client:
                target = await asyncio.to_thread(resolve_and_check, parsed, self.policy)
                merged = httpx.Headers(headers)
                # Set after the caller's (case-insensitively replacing any "host" there):
                # a caller cannot undo the pin.
                merged.update(target.headers)
                request = client.build_request(
                    method,
                    target.request_url,
                    headers=merged,
                    content=content,
                    extensions=target.extensions,
                )
                response = await client.send(request, stream=True)
                try:
                    body, _ = await _read_body(response, MAX_REPLY_BYTES)
                finally:
                    await response.aclose()
        kept = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in _FRAMING_HEADERS]
        return httpx.Response(response.status_code, headers=kept, content=body, request=request)
