"""vet-lab end to end: a real tarea serve, a real SMTP server (aiosmtpd) and the app (uvicorn)
with its worker, all on 127.0.0.1. Every flow of the app is run and its effects checked: the
mailed PDF is the rendered one byte for byte, the export link downloads the CSV, the batch
updates 50 protocols, the schedule exists and its run mails the statistics."""
from __future__ import annotations

import email
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from email import policy
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "examples" / "vet-lab"))
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))

import uvicorn  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

import tarea  # noqa: E402
from app import Lab, create_app  # noqa: E402
from worker import make_worker  # noqa: E402

BINARY = os.environ.get("TAREA_BINARY") or str(ROOT / "target" / "debug" / "tarea")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def wait(self, pred, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.messages):
                if pred(m):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no such message among {[m['Subject'] for m in self.messages]}")


def until(pred, timeout: float = 60, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vet-lab")
    key = subprocess.run([BINARY, "keys", "create", "--tenant", "laboratorio", "--data-dir", str(tmp / "data")],
                         check=True, capture_output=True, text=True).stdout.strip()
    tport = free_port()
    server = subprocess.Popen([BINARY, "serve", "--data-dir", str(tmp / "data"), "--listen", f"127.0.0.1:{tport}"],
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "tarea.log", "w"))
    tarea_url = f"http://127.0.0.1:{tport}"
    until(lambda: _ready(tarea_url), 30, "tarea to start")

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()

    aport = free_port()
    lab = Lab(tarea_url, key, f"http://127.0.0.1:{aport}", "127.0.0.1", smtp.port, "informes@lab.example",
              str(tmp / "vet-lab.db"))
    worker = make_worker(lab)
    threading.Thread(target=worker.run, kwargs={"install_signals": False}, daemon=True).start()
    app_server = uvicorn.Server(uvicorn.Config(create_app(lab), host="127.0.0.1", port=aport, log_level="warning"))
    threading.Thread(target=app_server.run, daemon=True).start()
    app = httpx.Client(base_url=f"http://127.0.0.1:{aport}", timeout=30)
    until(lambda: _ready(f"http://127.0.0.1:{aport}", "/protocolos/1"), 30, "the app to start")
    yield {"app": app, "lab": lab, "inbox": inbox, "tarea": lab.client}
    worker.stop()
    app_server.should_exit = True
    smtp.stop()
    server.terminate()
    server.wait(timeout=30)


def _ready(base: str, path: str = "/readyz") -> bool:
    try:
        return httpx.get(base + path, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_finalizing_a_report_mails_the_pdf_and_marks_it_sent(world):
    app, lab, inbox = world["app"], world["lab"], world["inbox"]
    started = time.monotonic()
    answer = app.post("/protocolos/7/finalizar").json()
    assert time.monotonic() - started < 2, "the request does not wait for the render"
    assert "/v1/public/jobs/" in answer["link"]
    until(lambda: app.get("/protocolos/7").json()["estado"] == "enviado", 60, "the protocol to be marked sent")
    p = app.get("/protocolos/7").json()
    mail = inbox.wait(lambda m: p["numero"] in str(m["Subject"]))
    assert mail["To"].addresses[0].addr_spec == p["email"]
    attachment = next(part for part in mail.iter_attachments() if part.get_content_type() == "application/pdf")
    sent = attachment.get_content()
    render = world["tarea"].wait(answer["job"], timeout=30)
    stored = world["tarea"].download(render.artifacts[0].id)
    assert hashlib.sha256(sent).hexdigest() == hashlib.sha256(stored).hexdigest() == render.artifacts[0].sha256
    # The hook was told which job sent it: the e-mail job, child of the render.
    email_job = world["tarea"].get(p["informe"])
    assert email_job.kind == "email.send" and email_job.raw["parent_id"] == answer["job"]


def test_reception_labels(world):
    answer = world["app"].post("/protocolos/etiquetas", json={"ids": [1, 2, 3]}).json()
    job = world["tarea"].wait(answer["job"], timeout=60)
    assert job.result["pages"] == 3, job.result
    assert world["tarea"].download(job.artifacts[0].id)[:5] == b"%PDF-"


def test_the_export_is_mailed_as_a_link(world):
    world["app"].post("/protocolos/exportar", json={"email": "direccion@lab.example"})
    mail = world["inbox"].wait(lambda m: m["Subject"] == "Exportación de protocolos")
    url = re.search(r"https?://\S+", mail.get_body(("plain",)).get_content()).group(0)
    csv = httpx.get(url, timeout=10)
    assert csv.status_code == 200 and "HP 26/01201" in csv.text
    assert "attachment" in csv.headers["content-disposition"]


def test_a_bulk_status_update_of_50_protocols(world):
    app, lab = world["app"], world["lab"]
    batch_id = app.post("/protocolos/estado", json={"ids": list(range(11, 61)), "estado": "archivado"}).json()["batch"]
    batch = world["tarea"].wait_batch(batch_id, timeout=60)
    assert batch.state == "succeeded" and batch.counts["succeeded"] == 50
    assert all(app.get(f"/protocolos/{i}").json()["estado"] == "archivado" for i in range(11, 61))
    done = until(lambda: lab.events("lote"), 30, "the batch's callback")
    assert done[0]["succeeded"] == 50 and done[0]["failed"] == 0
    # One bad item fails alone.
    bad = app.post("/protocolos/estado", json={"ids": [5, 9999], "estado": "archivado"}).json()["batch"]
    b = world["tarea"].wait_batch(bad, timeout=60)
    assert b.state == "failed" and b.counts["succeeded"] == 1 and b.counts["dead"] == 1


def test_the_nightly_statistics(world):
    view = world["tarea"]._send(tarea._calls.Call("GET", "/v1/schedules/estadisticas"))
    assert view["next_runs"][0].endswith("T02:00:00-03:00")
    world["tarea"]._send(tarea._calls.Call("POST", "/v1/schedules/estadisticas/run"))
    mail = world["inbox"].wait(lambda m: m["Subject"] == "Estadísticas del día")
    pdf = next(p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf")
    assert pdf.get_content()[:5] == b"%PDF-"
