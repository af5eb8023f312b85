"""What the one request path does on the wire: TLS verification, client certificates, compressed answers, no cookies."""

import datetime
import gzip
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runs import http
from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import Reply, ScriptedServer, reply

pytestmark = pytest.mark.usefixtures("q_sync")


def _issue(subject, issuer=None, issuer_key=None, *, ca=False, server=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                        critical=False)
    certificate = builder.sign(issuer_key or key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca_cert, _, ca_key = _issue("Test CA", ca=True)
    server_cert, server_key, _ = _issue("127.0.0.1", "Test CA", ca_key, server=True)
    client_cert, client_key, _ = _issue("integrations client", "Test CA", ca_key)
    (directory / "ca.pem").write_text(ca_cert)
    (directory / "server.pem").write_text(server_cert + server_key)
    return {"dir": directory, "ca": str(directory / "ca.pem"), "server": str(directory / "server.pem"),
            "client_pem": client_cert + client_key}


def _https_server(pki, *, require_client_certificate=False):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"])
    if require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    return ScriptedServer(ssl_context=context)


def test_an_untrusted_certificate_fails_the_run_in_words(db, pki):
    with _https_server(pki) as server:
        server.script("/jobs", reply(json={}))
        run = drive(start_run(make_action(server.base_url)))

    assert run.status == Status.FAILED
    assert "TLS failed" in run.reason and "certificate verify failed" in run.reason
    assert server.requests == []


def test_a_certificate_signed_by_a_trusted_authority_is_accepted(db, pki, monkeypatch):
    monkeypatch.setattr(http, "CA_BUNDLE", pki["ca"])
    with _https_server(pki) as server:
        server.script("/jobs", reply(json={"id": 1}))
        run = drive(start_run(make_action(server.base_url)))

    assert run.status == Status.SUCCEEDED, run.reason
    assert len(server.requests) == 1


def test_verification_can_be_turned_off_per_action(db, pki):
    with _https_server(pki) as server:
        server.script("/jobs", reply(json={}))
        run = drive(start_run(make_action(server.base_url, verify_tls=False)))

    assert run.status == Status.SUCCEEDED, run.reason


def test_a_client_certificate_is_presented_and_its_file_removed(db, pki, monkeypatch, tmp_path):
    monkeypatch.setattr(http, "CA_BUNDLE", pki["ca"])
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with _https_server(pki, require_client_certificate=True) as server:
        server.script("/jobs", reply(json={}))
        without = drive(start_run(make_action(server.base_url)))
        with_certificate = drive(start_run(make_action(server.base_url, client_certificate=pki["client_pem"])))

    assert without.status == Status.FAILED
    # TLS 1.3 refuses after the handshake: the client reads either the alert or the closed connection.
    assert "TLS failed" in without.reason
    assert with_certificate.status == Status.SUCCEEDED, with_certificate.reason
    assert len(server.requests) == 1
    assert list(tmp_path.iterdir()) == []  # the key was on disk only while the request needed it


def test_a_compressed_answer_is_decompressed_before_the_conditions_read_it(db, server):
    body = gzip.compress(b'{"status": "done"}')
    server.script("/jobs", Reply(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    action = make_action(server.base_url, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert "gzip" in server.requests[0].headers["Accept-Encoding"]


def test_a_cookie_set_for_one_run_is_not_sent_by_another(db, server):
    server.script("/jobs", reply(json={}, headers={"Set-Cookie": "session=run-one-only; Path=/"}))
    action = make_action(server.base_url)

    first = drive(start_run(action))
    second = drive(start_run(action))

    assert first.status == second.status == Status.SUCCEEDED
    assert len(server.requests) == 2
    assert all("Cookie" not in request.headers for request in server.requests)
