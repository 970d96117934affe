"""email.send over encrypted SMTP: STARTTLS and TLS from the first byte, against aiosmtpd on
127.0.0.1 with a certificate of a CA made here (trusted through the setting's `ca_pem`), and
refused when the certificate is not trusted."""
from __future__ import annotations

import ssl
import subprocess
import time

import pytest
from aiosmtpd.controller import Controller

import tarea
from conftest import free_port


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.received.append((envelope.content, encrypted))
        return "250 OK"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A CA of the lab's own, and the relay's certificate for `localhost` signed by it."""
    d = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Laboratorio CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "relay.key", "-out", "relay.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "relay.pem", "-days", "2", "-extfile", "ext.cnf")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "relay.pem", d / "relay.key")
    return ctx, (d / "ca.pem").read_text()


def send(client, to: str) -> tarea.Job:
    job = client.enqueue("email.send", {"to": [to], "subject": "Informe", "text": "Cifrado."}, max_attempts=1)
    deadline = time.monotonic() + 30
    while not (job := client.get(job.id)).finished:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_mail_goes_out_encrypted(server, cert, mode):
    ctx, pem = cert
    inbox = Inbox()
    port = free_port()
    if mode == "starttls":
        smtp = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True)
    else:
        smtp = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=ctx)
    smtp.start()
    try:
        with tarea.Client(server.url, api_key=server.key) as client:
            setting = {"host": "localhost", "port": port, "tls": mode, "from": "informes@lab.example"}
            client._send(tarea._calls.Call("PUT", "/v1/settings/email", {**setting, "ca_pem": pem}))
            job = send(client, "vet@clinica.example")
            assert job.state == "succeeded", job.error
            assert inbox.received and inbox.received[0][1], "the session was encrypted"
            # Without the CA, the relay's certificate is not trusted and nothing is sent.
            client._send(tarea._calls.Call("PUT", "/v1/settings/email", setting))
            job = send(client, "vet@clinica.example")
            assert job.state in ("dead", "failed") and job.error["code"] == "smtp_unavailable", job.error
            assert len(inbox.received) == 1
    finally:
        smtp.stop()
