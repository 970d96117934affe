"""vet-lab: a small veterinary pathology lab app that hands its slow work to tarea.

- Finalize a report: the PDF is rendered, e-mailed to the veterinarian with the PDF attached,
  and the app is told (a signed call) to mark the protocol as sent — one chain of jobs.
- Print reception labels: one PDF, a label per protocol, QR codes checked.
- Export protocols as CSV, e-mailed as a download link (the app makes the link when tarea
  calls it back with the file).
- Bulk status update of many protocols: a batch run by this app's own Python worker.
- Nightly statistics at 02:00 (Buenos Aires): a schedule that calls the app, which renders and
  mails the report.

Configuration (environment): TAREA_URL, TAREA_KEY, APP_URL (where tarea reaches this app),
SMTP_HOST, SMTP_PORT (the mail relay tarea sends through), LAB_EMAIL (the lab's inbox).
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request

import tarea

TEMPLATES = Path(__file__).resolve().parents[2] / "crates" / "tarea-render" / "templates"
SAMPLE_REPORT = json.loads((TEMPLATES / "lab-report.json").read_text())
SAMPLE_STATS = json.loads((TEMPLATES / "statistics-report.json").read_text())
ANIMALES = [("Luna", "Canino"), ("Michi", "Felino"), ("Toby", "Canino"), ("Kira", "Felino"), ("Rocco", "Canino")]


class Lab:
    """The app's state: protocols in SQLite, and its tarea client."""

    def __init__(self, tarea_url: str, tarea_key: str, app_url: str, smtp_host: str, smtp_port: int,
                 lab_email: str, db_path: str = ":memory:") -> None:
        self.client = tarea.Client(tarea_url, api_key=tarea_key)
        self.app_url = app_url.rstrip("/")
        self.lab_email = lab_email
        self.db = sqlite3.connect(db_path, check_same_thread=False)
        self.lock = threading.Lock()
        self.db.execute("CREATE TABLE IF NOT EXISTS protocolos (id INTEGER PRIMARY KEY, numero TEXT, animal TEXT, "
                        "especie TEXT, veterinaria TEXT, email TEXT, estado TEXT, informe TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS eventos (nombre TEXT, dato TEXT)")
        if not self.db.execute("SELECT COUNT(*) FROM protocolos").fetchone()[0]:
            for i in range(1, 61):
                animal, especie = ANIMALES[i % len(ANIMALES)]
                self.db.execute("INSERT INTO protocolos VALUES (?, ?, ?, ?, ?, ?, 'recibido', NULL)",
                                (i, f"HP 26/{1200 + i:05d}", animal, especie, "Dra. María Fernández",
                                 f"veterinaria{i}@clinica.example"))
        self.db.commit()
        # tarea sends mail through the lab's relay, and may call this app (and only this app).
        self.client._send(tarea._calls.Call("PUT", "/v1/settings/email", {
            "host": smtp_host, "port": smtp_port, "tls": "none",
            "from": f"Laboratorio de Patología <{lab_email}>"}))
        http = self.client._send(tarea._calls.Call("PUT", "/v1/settings/http", {"allow": [self.app_url + "/hooks/"]}))
        self.secret = http["signing_secret"]
        self.client.schedule("estadisticas", "0 2 * * *", self.hook("estadisticas", {}),
                             timezone="America/Argentina/Buenos_Aires")

    def hook(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A job that calls this app back at /hooks/{name} (signed by tarea)."""
        return tarea.job("http.request", {"url": f"{self.app_url}/hooks/{name}", "json": body}, queue="app")

    def protocol(self, pid: int) -> dict[str, Any]:
        with self.lock:
            row = self.db.execute("SELECT id, numero, animal, especie, veterinaria, email, estado, informe "
                                  "FROM protocolos WHERE id = ?", (pid,)).fetchone()
        if row is None:
            raise HTTPException(404, f"no existe el protocolo {pid}")
        keys = ["id", "numero", "animal", "especie", "veterinaria", "email", "estado", "informe"]
        return dict(zip(keys, row))

    def report_data(self, p: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(SAMPLE_REPORT)
        data["protocol_number"] = p["numero"]
        data["animal"]["identification"] = p["animal"]
        data["animal"]["species"] = p["especie"]
        data["veterinarian"]["email"] = p["email"]
        return data

    def set_status(self, pid: int, estado: str, informe: str | None = None) -> None:
        with self.lock:
            self.db.execute("UPDATE protocolos SET estado = ?, informe = COALESCE(?, informe) WHERE id = ?",
                            (estado, informe, pid))
            self.db.commit()

    def record(self, nombre: str, dato: Any) -> None:
        with self.lock:
            self.db.execute("INSERT INTO eventos VALUES (?, ?)", (nombre, json.dumps(dato)))
            self.db.commit()

    def events(self, nombre: str) -> list[Any]:
        with self.lock:
            return [json.loads(r[0]) for r in self.db.execute("SELECT dato FROM eventos WHERE nombre = ?", (nombre,))]

    def verify(self, request_body: bytes, headers: Any) -> None:
        """Refuses a hook call that tarea did not sign, or that is over 5 minutes old."""
        ts = headers.get("tarea-timestamp", "0")
        expected = "v1=" + hmac.new(self.secret.encode(), f"{ts}.".encode() + request_body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("tarea-signature", "")) or abs(time.time() - int(ts)) > 300:
            raise HTTPException(401, "firma inválida")


def create_app(lab: Lab) -> FastAPI:
    app = FastAPI(title="vet-lab")

    @app.get("/protocolos/{pid}")
    def ver(pid: int):
        return lab.protocol(pid)

    @app.post("/protocolos/{pid}/finalizar")
    def finalizar(pid: int):
        """Render → e-mail with the PDF → mark as sent: one chain, answered in milliseconds."""
        p = lab.protocol(pid)
        email = tarea.job("email.send", {
            "to": [f"{p['veterinaria']} <{p['email']}>"], "cc": [lab.lab_email],
            "subject": "Informe {{ numero }} listo",
            "text": "Estimada {{ veterinaria }}:\nAdjuntamos el informe del protocolo {{ numero }} ({{ animal }}).",
            "data": {"numero": p["numero"], "veterinaria": p["veterinaria"], "animal": p["animal"]},
            "attachments": [{"parent_artifacts": True}]}, queue="correo")
        email["then"] = lab.hook(f"protocolos/{pid}/enviado", {})
        job = lab.client.enqueue("pdf.render", {"template": "lab-report", "data": lab.report_data(p),
                                                "filename": f"informe-{p['numero'].replace('/', '-')}.pdf"},
                                 queue="informes", then=email)
        lab.set_status(pid, "en proceso")
        return {"job": job.id, "link": lab.client.browser_link(job.id)}

    @app.post("/protocolos/etiquetas")
    def etiquetas(body: dict[str, Any]):
        labels = []
        for pid in body["ids"]:
            p = lab.protocol(pid)
            labels.append({"protocol_number": p["numero"], "animal_identification": p["animal"],
                           "species": p["especie"], "analysis_type": "HP",
                           "url": f"{lab.app_url}/publico/protocolos/{pid}"})
        job = lab.client.enqueue("label.render", {"labels": labels, "filename": "etiquetas.pdf"}, queue="informes")
        return {"job": job.id, "link": lab.client.browser_link(job.id)}

    @app.post("/protocolos/exportar")
    def exportar(body: dict[str, Any]):
        """CSV of every protocol; when it is made, tarea calls /hooks/export-listo."""
        with lab.lock:
            rows = [list(r) for r in lab.db.execute("SELECT numero, animal, especie, estado FROM protocolos ORDER BY id")]
        job = lab.client.enqueue("csv.export", {"columns": ["Protocolo", "Animal", "Especie", "Estado"], "rows": rows,
                                                "filename": "protocolos.csv"},
                                 queue="informes", then=lab.hook("export-listo", {"para": body["email"]}))
        return {"job": job.id}

    @app.post("/protocolos/estado")
    def estado(body: dict[str, Any]):
        """Many protocols at once: a batch, each item run by this app's worker, failing alone."""
        items = [tarea.job("protocols.set_status", {"protocolo": pid, "estado": body["estado"]}, queue="app")
                 for pid in body["ids"]]
        batch = lab.client.batch(items, on_complete=lab.hook("lote-terminado", {"estado": body["estado"]}))
        return {"batch": batch.id}

    @app.post("/hooks/protocolos/{pid}/enviado")
    async def enviado(pid: int, request: Request):
        raw = await request.body()
        lab.verify(raw, request.headers)
        parent = json.loads(raw)["parent"]  # the e-mail job; its parent made the PDF
        lab.set_status(pid, "enviado", informe=parent["id"])
        return {"ok": True}

    @app.post("/hooks/export-listo")
    async def export_listo(request: Request):
        raw = await request.body()
        lab.verify(raw, request.headers)
        body = json.loads(raw)
        url = lab.client.link(body["parent"]["artifacts"][0], expires_in_s=7 * 86400)
        lab.client.enqueue("email.send", {"to": [body["para"]], "subject": "Exportación de protocolos",
                                          "text": "Descargue la exportación (válida 7 días): {{ url }}",
                                          "data": {"url": url}}, queue="correo")
        return {"ok": True}

    @app.post("/hooks/lote-terminado")
    async def lote_terminado(request: Request):
        raw = await request.body()
        lab.verify(raw, request.headers)
        lab.record("lote", json.loads(raw)["batch"])
        return {"ok": True}

    @app.post("/hooks/estadisticas")
    async def estadisticas(request: Request):
        raw = await request.body()
        lab.verify(raw, request.headers)
        with lab.lock:
            counts = dict(lab.db.execute("SELECT estado, COUNT(*) FROM protocolos GROUP BY estado").fetchall())
        data = copy.deepcopy(SAMPLE_STATS)
        data["generated_at"] = time.strftime("%Y-%m-%d")
        data["notes"] = "Protocolos por estado: " + ", ".join(f"{e} {n}" for e, n in sorted(counts.items())) + "."
        email = tarea.job("email.send", {"to": [lab.lab_email], "subject": "Estadísticas del día",
                                         "text": "Adjuntamos las estadísticas.", "attachments": [{"parent_artifacts": True}]},
                          queue="correo")
        lab.client.enqueue("pdf.render", {"template": "statistics-report", "data": data, "filename": "estadisticas.pdf"},
                           queue="informes", then=email)
        lab.record("estadisticas", counts)
        return {"ok": True}

    return app


def from_env() -> Lab:
    return Lab(os.environ.get("TAREA_URL", "http://127.0.0.1:8080"), os.environ["TAREA_KEY"],
               os.environ.get("APP_URL", "http://127.0.0.1:8000"), os.environ.get("SMTP_HOST", "127.0.0.1"),
               int(os.environ.get("SMTP_PORT", "1025")), os.environ.get("LAB_EMAIL", "informes@lab.example"),
               os.environ.get("VET_LAB_DB", "vet-lab.db"))
