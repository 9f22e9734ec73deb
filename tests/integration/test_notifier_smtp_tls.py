"""SMTP security as configured: STARTTLS with login, implicit TLS, and a refused login, against aiosmtpd."""

from __future__ import annotations

import smtplib
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from consumers.notifier.email import SmtpConfig, build_message, send
from consumers.notifier.routing import route
from infra.processes import free_port
from tests.integration.notifier_fixtures import MailBox
from tests.unit.reports.story import story

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"notifier" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 235 or 535 reply


def server_context(cert, key) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def message(config: SmtpConfig):
    routes = {s: ["email"] for s in ("low", "medium", "high", "critical")}
    note = route(story()["alert"], routes, ["alert"], "http://ui")
    return build_message(note, config, None)


async def test_starttls_with_login_delivers_and_a_wrong_password_is_refused(certificate):
    cert, key = certificate
    box, port = MailBox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=server_context(cert, key),
                            require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        config = SmtpConfig("127.0.0.1", port, "driftline@example.com", ("ops@example.com",), "starttls",
                            "notifier", "s3cret", 10.0, str(cert))
        await send(message(config), config)
        assert len(box.messages) == 1 and box.recipients == [["ops@example.com"]]
        wrong = SmtpConfig(**{**config.__dict__, "password": "nope"})
        with pytest.raises(smtplib.SMTPAuthenticationError):
            await send(message(wrong), wrong)
        plain = SmtpConfig(**{**config.__dict__, "security": "none"})
        with pytest.raises(smtplib.SMTPException):  # the server insists on STARTTLS first
            await send(message(plain), plain)
        assert len(box.messages) == 1
    finally:
        controller.stop()


async def test_implicit_tls(certificate):
    cert, key = certificate
    box, port = MailBox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, ssl_context=server_context(cert, key))
    controller.start()
    try:
        config = SmtpConfig("127.0.0.1", port, "driftline@example.com", ("ops@example.com",), "tls",
                            timeout_s=10.0, ca_file=str(cert))
        await send(message(config), config)
        assert len(box.messages) == 1
        assert box.messages[0]["Subject"].startswith("[driftline high] Alert: data_drift")
    finally:
        controller.stop()
