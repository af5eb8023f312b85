"""The one seam for outbound HTTP: every request of the engine goes through send().

It applies timeouts (connect, read, and a total deadline for slow bodies),
reads at most a capped number of bytes (streamed, so a huge answer cannot
fill memory), and refuses addresses the deployment does not allow: every
address a name resolves to is checked before connecting, the connection is
made to exactly those, and behind a proxy the target is checked before the
request goes to the proxy. Every failure becomes a SendError that says what
went wrong and whether trying again can help.
"""

import functools
import ipaddress
import os
import re
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family


class SendError(Exception):
    """A request that got no usable answer. ``kind``: connection, timeout, blocked, tls, too_slow.

    ``reached`` is False only when the request surely never reached the
    service (refused before or while connecting), so sending it again cannot
    repeat work the service did.
    """

    def __init__(self, kind, message, *, reached=True):
        super().__init__(message)
        self.kind = kind
        self.reached = reached and kind not in ("blocked",)


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
    # Bytes of the answer read at most (None: INTEGRATIONS_MAX_RESPONSE_BYTES); a file an action keeps
    # may be larger than an answer the log needs.
    max_bytes: int | None = None
    # What the log shows instead of the body (a multipart upload: its parts' names and sizes).
    body_for_log: str | None = None


@dataclass
class Received:
    status: int
    headers: urllib3.HTTPHeaderDict  # names ignore case
    body: bytes
    # Bytes of the body, decoded: all of them, or when reading stopped (truncated) and the whole is not
    # known, those read.
    size: int
    truncated: bool
    duration: float

    @property
    def compressed(self):
        return _encoded(self.headers)


# --- the address guard ---------------------------------------------------------

# Never reached, whatever INTEGRATIONS_ALLOWED_HOSTS lists, directly or through
# a proxy: link-local (where most clouds serve instance metadata and
# credentials: 169.254.169.254, AWS ECS and EKS at 169.254.170.x) and the
# metadata and platform addresses the clouds keep outside it.
ALWAYS_BLOCKED = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
    ipaddress.ip_network("168.63.129.16/32"),  # Azure WireServer
    ipaddress.ip_network("192.0.0.192/32"),  # Oracle Cloud Classic
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS, over IPv6
    ipaddress.ip_network("fd00:ec2::23/128"),  # AWS EKS Pod Identity, over IPv6
    ipaddress.ip_network("fd20:ce::254/128"),  # Google Cloud, over IPv6
    ipaddress.ip_network("fd00:c1::a9fe:a9fe/128"),  # Oracle Cloud, over IPv6
    ipaddress.ip_network("fd00:a9fe:a9fe::1/128"),  # Akamai (Linode), over IPv6
    ipaddress.ip_network("fd00:42::42/128"),  # Scaleway, over IPv6
    ipaddress.ip_network("fd00:100::100:200/128"),  # Alibaba Cloud, over IPv6
]

# The names clouds give their metadata services, refused before anything is
# resolved: behind a proxy the worker may not resolve them, but the proxy would.
METADATA_HOST_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog",  # Google Cloud
    "instance-data", "instance-data.ec2.internal",  # AWS
    "metadata.tencentyun.com",  # Tencent Cloud
})

# IPv6 addresses that carry an IPv4 address in their last 32 bits, and lead to it: NAT64's well-known prefix,
# IPv4-compatible addresses (deprecated, still routed by some stacks), SIIT's IPv4-translated addresses.
# IPv4-mapped (::ffff:0:0/96), 6to4 (2002::/16) and Teredo (2001::/32) are read by ipaddress itself.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)


def _address(ip):
    """``ip`` as an address object; an IPv6 address that leads to an IPv4 one is judged as that IPv4 address.

    Mapped, IPv4-compatible, IPv4-translated and NAT64 addresses carry it in their last 32 bits, 6to4 after
    its prefix, Teredo (obfuscated) as its client. ``::`` and ``::1`` are themselves.
    """
    address = ipaddress.ip_address(ip.split("%")[0])
    if address.version == 4:
        return address
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64 or address in IPV4_TRANSLATED or address in IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _literal_address(host):
    """The address ``host`` spells in any form a resolver reads, or None for a name.

    2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518 and
    169.254.169.254. (a trailing dot) all spell 169.254.169.254.
    """
    host = host.strip("[]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if NUMERIC_HOST.fullmatch(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            pass
    return None


def _host_name(host):
    return host.lower().rstrip(".")


@functools.lru_cache(maxsize=8)
def _parse_allowed_hosts(entries):
    networks, names = [], set()
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(_host_name(entry))
    names.discard("")
    return tuple(networks), frozenset(names)


def _allowed_hosts():
    """(networks, names) of INTEGRATIONS_ALLOWED_HOSTS; both empty when it allows everything."""
    return _parse_allowed_hosts(tuple(settings.INTEGRATIONS_ALLOWED_HOSTS))


def _always_blocked(address):
    return any(address in network for network in ALWAYS_BLOCKED)


def check_address(ip, host=""):
    """Raise SendError unless connecting to ``ip`` (for ``host``) is allowed.

    Link-local and metadata addresses are refused first, whatever the allowed
    list says; then, when there is a list, the host's name or the address
    must be on it.
    """
    address = _address(ip)
    if _always_blocked(address):
        raise SendError(
            "blocked",
            f"Requests to {host or ip} ({address}) are refused: link-local and cloud metadata addresses "
            "are never reached, whatever INTEGRATIONS_ALLOWED_HOSTS says.",
        )
    networks, names = _allowed_hosts()
    if (networks or names) and _host_name(host) not in names and not any(address in net for net in networks):
        raise SendError(
            "blocked", f"Requests to {host or ip} ({address}) are not allowed by INTEGRATIONS_ALLOWED_HOSTS."
        )


def _check_host_name(host):
    if _host_name(host) in METADATA_HOST_NAMES:
        raise SendError(
            "blocked", f"Requests to {host} are refused: it names a cloud metadata service, which is never reached."
        )


class _GuardMixin:
    """Resolves the host itself and refuses it unless every address is allowed, then connects to exactly those.

    urllib3 resolves and connects in one step (create_connection), which
    leaves only the address already connected to to check; and checking a
    name apart from connecting would let DNS answer differently the second
    time. TLS is untouched: it uses self.host, the URL's name, for SNI and
    the certificate. The connected peer is checked once more.
    """

    def _new_conn(self):
        host = self._dns_host.strip("[]")
        if self.proxy is not None:  # a connection to the proxy: send() has checked the target
            _check_proxy(self.proxy)
            check = functools.partial(_check_proxy, self.proxy)
        else:
            _check_host_name(host)
            check = functools.partial(check_address, host=self.host)
        try:
            infos = socket.getaddrinfo(_literal_address(host) or host, self.port, allowed_gai_family(),
                                       socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        for info in infos:
            check(info[4][0])
        sock = self._connect(infos)
        try:
            check(sock.getpeername()[0])
        except SendError:
            sock.close()
            raise
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def _connect(self, infos):
        """A socket connected to the first address of ``infos`` that answers, as urllib3 would connect."""
        error = None
        for family, kind, protocol, _, address in infos:
            sock = socket.socket(family, kind, protocol)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        if isinstance(error, TimeoutError):
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class GuardedHTTPConnection(_GuardMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


# --- proxies from the environment --------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy")


def environment_proxies(url):
    """The proxies HTTP(S)_PROXY, ALL_PROXY and NO_PROXY name for ``url`` ({} when none or bypassed).

    Working it out (as requests does) costs more CPU than sending a request;
    the answer only changes with the environment, so it is kept per host and
    per value of those variables.
    """
    parts = urlsplit(url)
    environment = tuple(os.environ.get(name) for name in PROXY_VARIABLES)
    return _environment_proxies(environment, f"{parts.scheme}://{parts.netloc}")


@functools.lru_cache(maxsize=4096)
def _environment_proxies(environment, origin):
    proxies = requests.utils.get_environ_proxies(origin)
    return proxies if requests.utils.select_proxy(origin, proxies) else {}


def _check_proxy(proxy, ip=None):
    """Refuse a proxy (urllib3 Url) named like a metadata service or at ``ip`` in ALWAYS_BLOCKED.

    The allowed list is not applied to the proxy: it names where requests may
    go, and the proxy is where the deployment's own environment sends them.
    """
    if _host_name(proxy.host) in METADATA_HOST_NAMES:
        reason = "its host names a cloud metadata service, which is never reached"
    elif ip is not None and _always_blocked(_address(ip)):
        reason = f"its address {_address(ip)} is link-local or a cloud metadata address, which is never reached"
    else:
        return
    name = f"{proxy.scheme}://{proxy.host}:{proxy.port}"  # never its credentials
    raise SendError("blocked", f"The proxy {name} ({_proxy_variables(proxy)}) is refused: {reason}.")


def _proxy_variables(proxy):
    """The environment variables that name ``proxy``, for messages."""
    names = []
    for name in PROXY_VARIABLES:
        value = os.environ.get(name, "")
        if value and "no_proxy" not in name.lower():
            try:
                host = urlsplit(requests.utils.prepend_scheme_if_needed(value, "http")).hostname
            except ValueError:
                continue
            if host == proxy.host.strip("[]").lower():
                names.append(name)
    return ", ".join(names) or "from the environment"


# How long the addresses of a target behind a proxy are kept (see _addresses).
RESOLVED_SECONDS = 10
_resolved = {}


def _addresses(host):
    """The addresses ``host`` resolves to here, () when it does not; kept for RESOLVED_SECONDS.

    Only for targets behind a proxy: the proxy resolves them again itself, so
    this check cannot be exact anyway, and polling through a kept-alive proxy
    connection should not cost a lookup per request. A direct connection
    always resolves afresh (_GuardMixin).
    """
    now = time.monotonic()
    cached = _resolved.get(host)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    except (OSError, UnicodeError):
        addresses = ()
    if len(_resolved) >= 4096:
        _resolved.clear()
    _resolved[host] = (now + RESOLVED_SECONDS, addresses)
    return addresses


def _check_proxied_target(url):
    """Behind a proxy the connection goes to the proxy, so the target is checked here, before sending.

    By name, and by every address it resolves to. A name the worker cannot
    resolve is left to the proxy (corporate proxies resolve names the
    worker cannot), unless there is an allowed list that does not name it.
    """
    host = urlsplit(url).hostname or ""
    _check_host_name(host)
    literal = _literal_address(host)
    addresses = (literal,) if literal else _addresses(host)
    for ip in addresses:
        check_address(ip, host)
    networks, names = _allowed_hosts()
    if not addresses and (networks or names) and _host_name(host) not in names:
        raise SendError(
            "blocked",
            f"Requests to {host} are not allowed by INTEGRATIONS_ALLOWED_HOSTS: the name is not listed, and it "
            "does not resolve here to an address that could be compared with the networks listed.",
        )


# --- connection pools: one per process (and per proxy), so connections are reused ----

_pools_lock = threading.Lock()
_pools = {}
USER_AGENT = "Integrations (Django) urllib3/" + urllib3.__version__
DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.utils.DEFAULT_CA_BUNDLE_PATH


def _manager(proxy_url):
    """The pool manager for direct requests (``proxy_url`` "") or for one proxy, made once."""
    manager = _pools.get(proxy_url)
    if manager is None:
        with _pools_lock:
            manager = _pools.get(proxy_url)
            if manager is None:
                size = settings.INTEGRATIONS_SEND_THREADS + 4
                if proxy_url:
                    proxy = requests.utils.prepend_scheme_if_needed(proxy_url, "http")
                    user, password = requests.utils.get_auth_from_url(proxy)
                    proxy_headers = urllib3.util.make_headers(proxy_basic_auth=f"{user}:{password}") if user else None
                    manager = urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, num_pools=20, maxsize=size)
                else:
                    manager = urllib3.PoolManager(num_pools=50, maxsize=size)
                manager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
                _pools[proxy_url] = manager
    return manager


def send(outbound):
    """Send ``outbound`` and return what came back; raise SendError when nothing usable did.

    Sent with urllib3, which requests is built on: a requests.Session costs
    more CPU per call than the rest of a poll, and its cookie jar would carry
    one run's cookies into another's requests. No cookies, redirects or
    retries happen here; proxies follow the environment as requests reads it.
    """
    limit = outbound.max_bytes or settings.INTEGRATIONS_MAX_RESPONSE_BYTES
    started = time.monotonic()
    deadline = started + outbound.connect_timeout + outbound.read_timeout
    cert_file = None
    proxies = environment_proxies(outbound.url) if outbound.use_env_proxy else {}
    proxy_url = requests.utils.select_proxy(outbound.url, proxies) or ""
    if proxy_url:
        _check_proxied_target(outbound.url)
    headers = {**DEFAULT_HEADERS, **outbound.headers}
    response, complete = None, False
    try:
        if outbound.client_certificate:
            cert_file = _write_certificate(outbound.client_certificate)
        tls = {
            "cert_reqs": "CERT_REQUIRED" if outbound.verify else "CERT_NONE",
            "ca_certs": CA_BUNDLE if outbound.verify else None,
            "cert_file": cert_file,
        }
        pool = _manager(proxy_url).connection_from_url(outbound.url, pool_kwargs=tls)
        response = pool.urlopen(
            outbound.method,
            # A proxy forwarding plain HTTP takes the whole URL; a direct request or a tunnel the path.
            outbound.url if proxy_url and outbound.url.startswith("http:") else _request_target(outbound.url),
            headers=headers,
            body=outbound.body,
            timeout=urllib3.Timeout(connect=outbound.connect_timeout, read=outbound.read_timeout),
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )
        chunks, received, truncated = [], 0, False
        while True:
            # read1 returns what has arrived so far, so a body that trickles in
            # (a byte at a time, never ending) still meets the deadline below.
            chunk = response.read1(65536, decode_content=True)
            if not chunk:
                complete = True
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
        if truncated and not _encoded(response.headers):
            # Content-Length counts the bytes on the wire: the body's own size unless it came compressed
            # (a gzip bomb of 1 MB decodes to gigabytes), when only what was decoded is known.
            declared = response.headers.get("Content-Length", "")
            size = int(declared) if declared.isdigit() else received
        return Received(
            status=response.status,
            headers=response.headers,
            body=b"".join(chunks),
            size=size,
            truncated=truncated,
            duration=time.monotonic() - started,
        )
    except SendError:
        raise
    except urllib3.exceptions.SSLError as exc:
        raise SendError("tls", f"TLS failed: {_cause(exc)}", reached=False) from None
    except urllib3.exceptions.NewConnectionError as exc:
        raise SendError("connection", f"Connection failed: {_cause(exc)}", reached=False) from None
    except urllib3.exceptions.ConnectTimeoutError:
        raise SendError("timeout", f"No connection within {outbound.connect_timeout:g} s (connect timeout).",
                        reached=False) from None
    except (urllib3.exceptions.ReadTimeoutError, socket.timeout):
        raise SendError("timeout", f"No answer within {outbound.read_timeout:g} s (read timeout).") from None
    except urllib3.exceptions.ProxyError as exc:
        raise SendError("connection", f"The proxy {_without_credentials(proxy_url)} failed: {_cause(exc)}",
                        reached=False) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise SendError("connection", f"The request failed: {_cause(exc)}") from None
    finally:
        if response is not None:
            if not complete:
                response.close()  # a body left unread (capped, too slow) cannot share its connection
            response.release_conn()
        if cert_file:
            os.unlink(cert_file)


def _encoded(headers):
    """Did the body come compressed (Content-Encoding), so that what is read is more than what was sent?"""
    return headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def _request_target(url):
    """The path and query that go on the request line of a direct request."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _without_credentials(url):
    parts = urlsplit(url)
    return url.replace(f"{parts.username}:{parts.password}@", "***@") if parts.password else url


def _write_certificate(pem):
    handle, path = tempfile.mkstemp(suffix=".pem")
    with os.fdopen(handle, "w") as file:
        file.write(pem)
    return path


def _cause(exc):
    """The innermost reason of a urllib3 or socket error, in one line."""
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
