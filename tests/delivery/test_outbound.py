"""The outbound guard against a real HTTP server on 127.0.0.1 that records every request."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cinefuse.delivery.outbound import (
    OutboundClient,
    OutboundError,
    OutboundHTTPError,
    OutboundNetworkError,
    OutboundPolicy,
    OutboundRefused,
    OutboundTimeout,
    OutboundTooLarge,
    forbidden_reason,
    resolve_and_check,
)

NO_ALLOW = OutboundPolicy()
LOOPBACK = OutboundPolicy.from_setting("127.0.0.1")


# --- a recording receiver -----------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.log: list[Seen] = []
        self.port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that gave up (timeouts) make the slow handler's writes fail: expected

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.log.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        return parse_qs(urlsplit(self.path).query)

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}) and status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        query = self._record()
        path = urlsplit(self.path).path
        if path in ("/ok", "/secret"):
            self._reply(200, b"hello" if path == "/ok" else b"secret")
        elif path == "/big":
            self._reply(200, b"x" * int(query["n"][0]))
        elif path == "/stream":
            # HTTP/1.0 reply without Content-Length: the body ends when the connection does.
            self.send_response(200)
            self.end_headers()
            for _ in range(int(query["n"][0]) // 1000):
                self.wfile.write(b"y" * 1000)
        elif path == "/slow":
            time.sleep(2)
            self._reply(200, b"late")
        elif path == "/redirect":
            self._reply(302, headers={"Location": query["to"][0]})
        elif path == "/status":
            self._reply(int(query["code"][0]), b"nope")
        else:
            self._reply(404)

    def do_POST(self) -> None:
        self._record()
        if self.path.startswith("/redirect"):
            self._reply(307, headers={"Location": "/ok"})
        else:
            self._reply(201, b"created", headers={"X-Reply": "1"})

    do_PUT = do_POST


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def log(receiver: Receiver) -> list[Seen]:
    receiver.log.clear()
    return receiver.log


FAKE_DNS = {
    "evil.test": ["10.1.2.3"],
    "local.test": ["127.0.0.1"],
    "public.test": ["127.0.0.1"],
    "mixed.test": ["93.184.216.34", "127.0.0.1"],
    "world.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "meta.test": ["169.254.169.254"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = str(host).lower().rstrip(".")
        if name == "nx.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if name in FAKE_DNS:
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, int(port or 0)),
                )
                for ip in FAKE_DNS[name]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _fetch(client: OutboundClient, url: str, max_bytes: int = 1 << 20) -> bytes:
    return asyncio.run(client.fetch(url, max_bytes=max_bytes))


def _refused(call: Callable[[], object], match: str | None = None) -> OutboundRefused:
    with pytest.raises(OutboundRefused, match=match) as info:
        call()
    assert info.value.reason
    return info.value


# --- refused destinations: nothing reaches the receiver -----------------------------------


@pytest.mark.usefixtures("fake_dns")
@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("http://127.0.0.1:{port}/ok", "loopback"),
        ("http://10.0.0.1:{port}/ok", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]:{port}/ok", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/ok", "embeds loopback"),
        ("http://evil.test:{port}/ok", "evil.test resolves to private address 10.1.2.3"),
        ("http://local.test:{port}/ok", "loopback"),
        ("http://mixed.test:{port}/ok", "loopback"),
        ("http://meta.test/", "metadata"),
        ("http://localhost:{port}/ok", "loopback"),
        ("http://2130706433:{port}/ok", "loopback"),  # 127.0.0.1 as one decimal number
        ("http://0x7f.1:{port}/ok", "loopback"),
        ("https://127.0.0.1:{port}/ok", "loopback"),
    ],
)
def test_forbidden_destinations(receiver: Receiver, log: list[Seen], template: str, match: str) -> None:
    url = template.format(port=receiver.port)
    client = OutboundClient(NO_ALLOW, total_timeout=5)
    _refused(lambda: _fetch(client, url), match)
    _refused(lambda: client.fetch_sync(url, max_bytes=100), match)
    _refused(lambda: asyncio.run(client.send("POST", url, content=b"{}")), match)
    assert log == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http:///nohost",
        "not a url",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:0/",
        "http://xn--a.example/",  # not valid IDNA: decoding the host raised idna.IDNAError, uncaught
    ],
)
def test_non_http_urls(url: str) -> None:
    _refused(lambda: resolve_and_check(url, LOOPBACK))


def test_userinfo_refused_even_when_allowed(receiver: Receiver, log: list[Seen]) -> None:
    url = f"http://user:pass@127.0.0.1:{receiver.port}/ok"
    _refused(lambda: _fetch(OutboundClient(LOOPBACK), url), "user info")
    assert log == []


@pytest.mark.usefixtures("fake_dns")
def test_redirect_to_private_address_is_refused(receiver: Receiver, log: list[Seen]) -> None:
    # public.test resolves to 127.0.0.1 and is allowed by name; 127.0.0.1 itself is not.
    policy = OutboundPolicy.from_setting("public.test")
    secret = receiver.url("/secret")
    start = receiver.url(f"/redirect?to={secret}", host="public.test")
    _refused(lambda: _fetch(OutboundClient(policy), start), "loopback")
    assert [seen.path for seen in log] == [f"/redirect?to={secret}"]
    assert log[0].headers["host"] == f"public.test:{receiver.port}"


@pytest.mark.usefixtures("fake_dns")
def test_redirect_to_metadata_is_refused(receiver: Receiver, log: list[Seen]) -> None:
    policy = OutboundPolicy.from_setting("127.0.0.1")
    start = receiver.url("/redirect?to=http://169.254.169.254/latest/meta-data/")
    _refused(lambda: _fetch(OutboundClient(policy), start), "metadata")
    assert len(log) == 1


@pytest.mark.usefixtures("fake_dns")
def test_unresolvable_host() -> None:
    with pytest.raises(OutboundNetworkError, match=r"cannot resolve nx\.test"):
        resolve_and_check("http://nx.test/", NO_ALLOW)


# --- address classification ---------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",
        "0.1.2.3",
        "10.255.0.1",
        "100.64.0.1",
        "100.100.100.200",
        "127.8.8.8",
        "169.254.1.1",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.0.1",
        "198.18.0.1",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:0:a00:1",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "2002:a00:1::1",
        "2002:7f00:1::",
        "2001::1",
        "2001:db8::1",
        "100::1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
    ],
)
def test_forbidden_addresses(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None
    host = f"[{address}]" if ":" in address else address
    _refused(lambda: resolve_and_check(f"http://{host}/", NO_ALLOW))


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"],
)
def test_public_addresses(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None
    host = f"[{address}]" if ":" in address else address
    assert resolve_and_check(f"http://{host}/", NO_ALLOW).address == ipaddress.ip_address(address)


# --- policy -------------------------------------------------------------------------------


def test_policy_parsing() -> None:
    policy = OutboundPolicy.from_setting(" 127.0.0.1, 10.0.0.0/8 ,LocalHost.,::1,[fd00::1],, ")
    assert policy.hosts == frozenset({"localhost"})
    assert [str(net) for net in policy.networks] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::1/128"]
    assert OutboundPolicy.from_setting(["127.0.0.1", "a.test,b.test"]).hosts == {"a.test", "b.test"}
    assert OutboundPolicy.from_setting("") == OutboundPolicy()


@pytest.mark.parametrize("entry", ["http://x", "a b", "10.0.0.0/33", "*.example.com", "x/y"])
def test_policy_rejects_garbage(entry: str) -> None:
    with pytest.raises(ValueError):
        OutboundPolicy.from_setting(entry)


@pytest.mark.usefixtures("fake_dns")
def test_policy_ranges_and_names() -> None:
    ranges = OutboundPolicy.from_setting("10.0.0.0/8,::1")
    assert str(resolve_and_check("http://evil.test/", ranges).address) == "10.1.2.3"
    assert str(resolve_and_check("http://[::1]/", ranges).address) == "::1"
    _refused(lambda: resolve_and_check("http://local.test/", ranges))
    named = OutboundPolicy.from_setting("local.test")
    assert str(resolve_and_check("http://LOCAL.test./", named).address) == "127.0.0.1"
    _refused(lambda: resolve_and_check("http://127.0.0.1/", named))


def test_metadata_needs_an_exact_entry() -> None:
    _refused(
        lambda: resolve_and_check("http://169.254.169.254/", OutboundPolicy.from_setting("169.254.0.0/16")),
        "metadata",
    )
    exact = OutboundPolicy.from_setting("169.254.169.254")
    assert str(resolve_and_check("http://169.254.169.254/", exact).address) == "169.254.169.254"


def test_allowed_v4_covers_its_mapped_form() -> None:
    target = resolve_and_check("http://[::ffff:127.0.0.1]/", LOOPBACK)
    assert target.address == ipaddress.ip_address("::ffff:127.0.0.1")


# --- pinning ------------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_dns")
def test_pinned_https_target_keeps_name_for_host_and_sni() -> None:
    target = resolve_and_check("https://World.test:8443/a?token=1", NO_ALLOW)
    assert str(target.address) == "93.184.216.34"
    assert [str(a) for a in target.addresses] == FAKE_DNS["world.test"]
    assert str(target.request_url) == "https://93.184.216.34:8443/a?token=1"
    assert target.headers == {"Host": "world.test:8443"}
    assert target.extensions == {"sni_hostname": "world.test"}


def test_pinned_ipv6_and_plain_http() -> None:
    target = resolve_and_check("http://[2606:4700:4700::1111]/x", NO_ALLOW)
    assert str(target.request_url) == "http://[2606:4700:4700::1111]/x"
    assert target.extensions == {}
    assert resolve_and_check("https://8.8.8.8/", NO_ALLOW).extensions == {}


@pytest.mark.usefixtures("fake_dns")
def test_connection_goes_to_the_checked_address(
    receiver: Receiver, log: list[Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    # After the check, the name "changes" its answer (DNS rebinding): nothing may re-resolve it.
    policy = OutboundPolicy.from_setting("public.test")
    client = OutboundClient(policy)
    calls: list[str] = []
    checked = resolve_and_check

    def check_then_rebind(url: Any, policy: OutboundPolicy) -> Any:
        target = checked(url, policy)
        calls.append(target.hostname)
        FAKE_DNS["public.test"] = ["10.9.9.9"]
        return target

    monkeypatch.setattr("cinefuse.delivery.outbound.resolve_and_check", check_then_rebind)
    try:
        assert _fetch(client, receiver.url("/ok", host="public.test")) == b"hello"
    finally:
        FAKE_DNS["public.test"] = ["127.0.0.1"]
    assert calls == ["public.test"]
    assert log[0].headers["host"] == f"public.test:{receiver.port}"


# --- fetch ----------------------------------------------------------------------------------


def test_allowed_fetch(receiver: Receiver, log: list[Seen]) -> None:
    client = OutboundClient(LOOPBACK)
    assert _fetch(client, receiver.url("/ok")) == b"hello"
    assert client.fetch_sync(receiver.url("/ok"), max_bytes=5) == b"hello"
    assert len(log) == 2
    assert log[0].headers["host"] == f"127.0.0.1:{receiver.port}"
    assert log[0].headers["user-agent"].startswith("cinefuse/")
    assert log[0].headers["accept-encoding"] == "identity"


def test_fetch_sync_from_a_worker_thread(receiver: Receiver) -> None:
    results: list[bytes] = []
    worker = threading.Thread(
        target=lambda: results.append(OutboundClient(LOOPBACK).fetch_sync(receiver.url("/ok"), max_bytes=99))
    )
    worker.start()
    worker.join()
    assert results == [b"hello"]


def test_relative_redirect_followed(receiver: Receiver, log: list[Seen]) -> None:
    assert _fetch(OutboundClient(LOOPBACK), receiver.url("/redirect?to=/ok")) == b"hello"
    assert [seen.path for seen in log] == ["/redirect?to=/ok", "/ok"]


def test_too_many_redirects(receiver: Receiver, log: list[Seen]) -> None:
    hop2 = receiver.url("/redirect?to=/ok")
    hop1 = receiver.url(f"/redirect?to={hop2}")
    client = OutboundClient(LOOPBACK, max_redirects=1)
    _refused(lambda: _fetch(client, hop1), "more than 1 redirects")
    assert len(log) == 2


def test_redirect_to_bad_port_is_refused(receiver: Receiver, log: list[Seen]) -> None:
    start = receiver.url("/redirect?to=http://127.0.0.1:99999/")
    _refused(lambda: _fetch(OutboundClient(LOOPBACK), start), "out of range")
    assert len(log) == 1


def test_max_bytes_declared(receiver: Receiver) -> None:
    client = OutboundClient(LOOPBACK)
    assert _fetch(client, receiver.url("/big?n=1000"), max_bytes=1000) == b"x" * 1000
    with pytest.raises(OutboundTooLarge):
        _fetch(client, receiver.url("/big?n=1000"), max_bytes=999)


def test_max_bytes_streamed(receiver: Receiver) -> None:
    client = OutboundClient(LOOPBACK)
    assert _fetch(client, receiver.url("/stream?n=5000"), max_bytes=5000) == b"y" * 5000
    with pytest.raises(OutboundTooLarge):
        _fetch(client, receiver.url("/stream?n=200000"), max_bytes=4096)


def test_total_timeout(receiver: Receiver) -> None:
    client = OutboundClient(LOOPBACK, total_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(OutboundTimeout):
        _fetch(client, receiver.url("/slow"))
    with pytest.raises(OutboundTimeout):
        client.fetch_sync(receiver.url("/slow"), max_bytes=10)
    assert time.monotonic() - started < 1.5


def test_http_error_status(receiver: Receiver) -> None:
    with pytest.raises(OutboundHTTPError) as info:
        _fetch(OutboundClient(LOOPBACK), receiver.url("/status?code=503"))
    assert info.value.status == 503
    assert isinstance(info.value, OutboundError)


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OutboundNetworkError):
        _fetch(OutboundClient(LOOPBACK), f"http://127.0.0.1:{port}/")


def test_error_messages_leave_out_path_and_query(receiver: Receiver) -> None:
    with pytest.raises(OutboundHTTPError) as info:
        _fetch(OutboundClient(LOOPBACK), receiver.url("/status?code=500&token=s3cr3t"))
    assert "s3cr3t" not in str(info.value)
    assert info.value.url == f"http://127.0.0.1:{receiver.port}"


# --- send -----------------------------------------------------------------------------------


def test_upload_has_content_length_not_chunked(receiver: Receiver, log: list[Seen]) -> None:
    body = bytes(range(256)) * 1000
    reply = asyncio.run(
        OutboundClient(LOOPBACK).send(
            "PUT", receiver.url("/upload?X-Amz-Signature=abc"), headers={"Content-Type": "video/mp4"}, content=body
        )
    )
    assert reply.status_code == 201
    assert reply.content == b"created"
    assert reply.headers["x-reply"] == "1"
    (seen,) = log
    assert (seen.method, seen.path) == ("PUT", "/upload?X-Amz-Signature=abc")
    assert seen.headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in seen.headers
    assert seen.headers["content-type"] == "video/mp4"
    assert seen.body == body


def test_send_empty_body_and_host_cannot_be_overridden(receiver: Receiver, log: list[Seen]) -> None:
    reply = asyncio.run(OutboundClient(LOOPBACK).send("POST", receiver.url("/hook"), headers={"host": "evil.example"}))
    assert reply.status_code == 201
    assert log[0].headers["content-length"] == "0"
    assert log[0].headers["host"] == f"127.0.0.1:{receiver.port}"


def test_send_follows_no_redirect(receiver: Receiver, log: list[Seen]) -> None:
    reply = asyncio.run(OutboundClient(LOOPBACK).send("POST", receiver.url("/redirect"), content=b"{}"))
    assert reply.status_code == 307
    assert reply.headers["location"] == "/ok"
    assert [seen.path for seen in log] == ["/redirect"]


def test_send_returns_error_statuses(receiver: Receiver) -> None:
    client = OutboundClient(LOOPBACK)
    reply = asyncio.run(client.send("GET", receiver.url("/status?code=500")))
    assert reply.status_code == 500
    assert reply.content == b"nope"
    assert isinstance(reply, httpx.Response)


def test_send_timeout(receiver: Receiver) -> None:
    started = time.monotonic()
    with pytest.raises(OutboundTimeout):
        asyncio.run(OutboundClient(LOOPBACK).send("GET", receiver.url("/slow"), timeout=0.3))
    assert time.monotonic() - started < 1.5


def test_send_keeps_only_the_head_of_a_long_reply(receiver: Receiver) -> None:
    reply = asyncio.run(OutboundClient(LOOPBACK).send("GET", receiver.url("/big?n=200000")))
    assert reply.status_code == 200
    assert len(reply.content) == 64 * 1024
    assert reply.headers["content-length"] == str(64 * 1024)  # describes the body as kept
