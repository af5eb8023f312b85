"""The one seam for outbound HTTP: every request of the engine goes through send().

It applies timeouts (connect, read, and a total deadline for slow bodies),
reads at most a capped number of bytes (streamed, so a huge answer cannot
fill memory), and refuses addresses the deployment does not allow, checked
on the address actually connected to. Every failure becomes a SendError
that says what went wrong and whether trying again can help.
"""

import ipaddress
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Never reachable unless a deployment lists them itself: link-local (where
# cloud metadata services live) and the known metadata addresses.
ALWAYS_BLOCKED = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
]


class SendError(Exception):
    """A request that got no usable answer. ``kind``: connection, timeout, blocked, tls, too_slow."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


@dataclass
class Outbound:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    connect_timeout: float = 5
    read_timeout: float = 30
    verify: bool = True
    client_certificate: str = ""
    use_env_proxy: bool = True


@dataclass
class Received:
    status: int
    headers: dict
    body: bytes
    size: int
    truncated: bool
    duration: float


# --- the address guard ---------------------------------------------------------


def _allowed_networks():
    networks, names = [], set()
    for entry in settings.INTEGRATIONS_ALLOWED_HOSTS:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower())
    return networks, names


def check_address(ip, host=""):
    """Raise SendError unless connecting to ``ip`` (for ``host``) is allowed."""
    address = ipaddress.ip_address(ip.split("%")[0])
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    networks, names = _allowed_networks()
    if networks or names:
        if host.lower() in names or any(address in network for network in networks):
            return
        raise SendError("blocked", f"Requests to {host or ip} ({address}) are not allowed by INTEGRATIONS_ALLOWED_HOSTS.")
    if any(address in network for network in ALWAYS_BLOCKED):
        raise SendError("blocked", f"Requests to {host or ip} ({address}) are refused: link-local and cloud metadata addresses are never reached.")


def _check_literal_address(url):
    """An address written in the URL is refused before connecting (a proxy would hide it from the connection)."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return  # a name: checked on the address it connects to
    check_address(host, host)


class _GuardMixin:
    def _new_conn(self):
        sock = super()._new_conn()
        try:
            check_address(sock.getpeername()[0], self.host)
        except SendError:
            sock.close()
            raise
        return sock


class GuardedHTTPConnection(_GuardMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


# --- sessions: one per thread, so connections are reused ---------------------------

_local = threading.local()


def _session(use_env_proxy):
    sessions = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    session = sessions.get(use_env_proxy)
    if session is None:
        session = requests.Session()
        session.trust_env = use_env_proxy
        adapter = GuardedAdapter(pool_connections=20, pool_maxsize=20, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        sessions[use_env_proxy] = session
    return session


def send(outbound):
    """Send ``outbound`` and return what came back; raise SendError when nothing usable did."""
    limit = settings.INTEGRATIONS_MAX_RESPONSE_BYTES
    started = time.monotonic()
    deadline = started + outbound.connect_timeout + outbound.read_timeout
    cert_file = None
    _check_literal_address(outbound.url)
    try:
        if outbound.client_certificate:
            cert_file = _write_certificate(outbound.client_certificate)
        response = _session(outbound.use_env_proxy).request(
            outbound.method,
            outbound.url,
            headers=outbound.headers,
            data=outbound.body,
            timeout=(outbound.connect_timeout, outbound.read_timeout),
            verify=outbound.verify,
            cert=cert_file,
            allow_redirects=False,
            stream=True,
        )
        with response:
            chunks, received, truncated = [], 0, False
            while True:
                # read1 returns what has arrived so far, so a body that trickles in
                # (a byte at a time, never ending) still meets the deadline below.
                chunk = response.raw.read1(65536, decode_content=True)
                if not chunk:
                    break
                received += len(chunk)
                if received > limit:
                    chunks.append(chunk[: len(chunk) - (received - limit)])
                    truncated = True
                    break
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise SendError(
                        "too_slow",
                        f"The response body was still arriving after {outbound.connect_timeout + outbound.read_timeout:g} s "
                        "(connect + read timeout); gave up.",
                    )
            size = received
            if truncated:
                declared = response.headers.get("Content-Length", "")
                size = int(declared) if declared.isdigit() else received
            return Received(
                status=response.status_code,
                headers=dict(response.headers),
                body=b"".join(chunks),
                size=size,
                truncated=truncated,
                duration=time.monotonic() - started,
            )
    except SendError:
        raise
    except requests.exceptions.SSLError as exc:
        raise SendError("tls", f"TLS failed: {_cause(exc)}") from None
    except requests.exceptions.ConnectTimeout:
        raise SendError("timeout", f"No connection within {outbound.connect_timeout:g} s (connect timeout).") from None
    except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout):
        raise SendError("timeout", f"No answer within {outbound.read_timeout:g} s (read timeout).") from None
    except requests.exceptions.ConnectionError as exc:
        blocked = _find_send_error(exc)
        if blocked:
            raise blocked from None
        raise SendError("connection", f"Connection failed: {_cause(exc)}") from None
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        blocked = _find_send_error(exc)
        if blocked:
            raise blocked from None
        raise SendError("connection", f"The request failed: {_cause(exc)}") from None
    finally:
        if cert_file:
            os.unlink(cert_file)


def _write_certificate(pem):
    handle, path = tempfile.mkstemp(suffix=".pem")
    with os.fdopen(handle, "w") as file:
        file.write(pem)
    return path


def _find_send_error(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SendError):
            return exc
        for arg in getattr(exc, "args", ()):
            if isinstance(arg, SendError):
                return arg
            found = _find_send_error(getattr(arg, "reason", None)) if hasattr(arg, "reason") else None
            if found:
                return found
        exc = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
    return None


def _cause(exc):
    """The innermost reason of a requests/urllib3 error, in one line."""
    seen = set()
    current = exc
    while True:
        reason = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if reason is None or id(reason) in seen or not isinstance(reason, BaseException):
            break
        seen.add(id(reason))
        current = reason
    text = str(current) or current.__class__.__name__
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
