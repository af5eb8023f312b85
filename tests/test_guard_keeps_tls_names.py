"""The guard connects to the address it checked, while TLS still checks the name in the URL.

Directly and through a CONNECT tunnel: the server sees the URL's name as SNI
and its certificate must be for that name.
"""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runs import http
from runs.http import Outbound, SendError, send
from tests.proxy_server import TunnelProxy
from tests.servers import ScriptedServer, reply


def _certificate(names, directory):
    """A self-signed certificate for DNS ``names``; returns (path of cert + key, path of cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (directory / "server.pem").write_bytes(cert_pem + key_pem)
    (directory / "ca.pem").write_bytes(cert_pem)
    return str(directory / "server.pem"), str(directory / "ca.pem")


def https_server(names, tmp_path, monkeypatch):
    """A server on 127.0.0.1 with a certificate for ``names``, trusted by send(); records the SNI it is sent."""
    chain, ca = _certificate(names, tmp_path)
    monkeypatch.setattr(http, "CA_BUNDLE", ca)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    server = ScriptedServer(ssl_context=context)
    server.sni = []
    context.sni_callback = lambda connection, name, context: server.sni.append(name)
    return server


@pytest.fixture
def no_proxies(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_tls_sends_and_checks_the_url_host_name_while_connecting_to_its_checked_address(tmp_path, monkeypatch,
                                                                                       settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["localhost"]
    with https_server(["localhost"], tmp_path, monkeypatch) as server:
        server.script("/jobs", reply(json={"id": 1}))
        port = server.server.server_address[1]

        received = send(Outbound("GET", f"https://localhost:{port}/jobs", use_env_proxy=False))

    assert received.status == 200
    assert server.sni == ["localhost"]


def test_a_certificate_for_another_name_is_refused(tmp_path, monkeypatch):
    with https_server(["elsewhere.example.com"], tmp_path, monkeypatch) as server:
        server.script("/jobs", reply(json={"id": 1}))
        port = server.server.server_address[1]

        with pytest.raises(SendError) as caught:
            send(Outbound("GET", f"https://localhost:{port}/jobs", use_env_proxy=False))

    assert caught.value.kind == "tls"
    assert "localhost" in str(caught.value)
    assert server.requests == []


def test_through_a_tunnel_tls_checks_the_target_name_the_proxy_resolves(tmp_path, monkeypatch, settings, no_proxies):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["jobs.example.invalid"]
    with https_server(["jobs.example.invalid"], tmp_path, monkeypatch) as server:
        server.script("/jobs", reply(json={"id": 1}))
        with TunnelProxy(hosts={"jobs.example.invalid": server.server.server_address[1]}) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)

            received = send(Outbound("GET", "https://jobs.example.invalid/jobs"))

    assert received.status == 200
    (request_line,) = proxy.requests
    assert request_line.startswith("CONNECT jobs.example.invalid:443 ")
    assert server.sni == ["jobs.example.invalid"]


def test_an_https_target_not_on_the_allowed_list_never_reaches_the_proxy(monkeypatch, settings, no_proxies):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["jobs.example.invalid"]
    with TunnelProxy(hosts={"internal-only.corp": 9}) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)

        with pytest.raises(SendError) as caught:
            send(Outbound("GET", "https://internal-only.corp/secret"))

    assert caught.value.kind == "blocked"
    assert proxy.connections == 0
