"""Pictures of the main pages for the docs, on a server of their own with a few jobs in
different states. Only with TAREA_SCREENSHOTS=1 (so test runs do not rewrite the files):

    TAREA_SCREENSHOTS=1 python3 -m pytest -q tests/dashboard/test_screenshots.py
"""
from __future__ import annotations

import math
import os
import sqlite3
import time

import pytest
from conftest import LAPTOP, PHONE, ROOT, Server, sign_in
from playwright.sync_api import expect

OUT = ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(os.environ.get("TAREA_SCREENSHOTS") != "1",
                                reason="set TAREA_SCREENSHOTS=1 to write docs/screenshots")


@pytest.fixture
def lab(tmp_path):
    s = Server(tmp_path, tenant="lab-rosario")
    yield s
    s.stop()


def seed(api) -> dict:
    """A morning at a vet lab: reports, labels, a budget that failed, an e-mail cancelled."""
    ids = {}
    api.enqueue("tarea.noop", tags=["diagnostico"])
    api.enqueue("etiquetas.zpl", queue="etiquetas", payload={"skus": ["A-1", "B-2"]})
    api.enqueue("correo.resultados", queue="correo", delay_ms=3_600_000, payload={"protocolo": 1230})
    mail = api.enqueue("correo.resultados", queue="correo", payload={"protocolo": 1231})
    api.ok("POST", f"/v1/jobs/{mail['id']}/cancel")
    ids["cancelled"] = mail["id"]

    api.enqueue("presupuesto.pdf", queue="obras", max_attempts=1,
                payload={"obra": "Calle Mayor 12, Madrid", "partidas": 140})
    job = api.claim("presupuesto.pdf", "obras")
    ids["dead"] = api.fail(job, "pdf_failed", "the template 'presupuesto' has no field 'iva'",
                           details={"template": "presupuesto", "field": "iva", "line": 42})["id"]

    api.enqueue("informe.laboratorio", queue="informes", tags=["lab-rosario", "protocolo-1234"],
                payload={"protocolo": 1234, "paciente": "Luna", "especie": "felino", "analisis": ["hemograma", "bioquímica"]})
    job = api.claim("informe.laboratorio", "informes")
    api.progress(job, 100, step="Listo")
    api.upload(job, "Informe 1234 - Luna.pdf", b"%PDF-1.4\n" + b"0" * 61_000, "application/pdf")
    api.complete(job, {"paginas": 3, "firmado_por": "Dra. Pérez"})

    api.enqueue("informe.laboratorio", queue="informes", tags=["lab-rosario", "protocolo-1235"],
                payload={"protocolo": 1235, "paciente": "Toby", "especie": "canino", "analisis": ["orina"]})
    job = api.claim("informe.laboratorio", "informes")
    api.upload(job, "Gráficos 1235.png", b"\x89PNG\r\n\x1a\n" + b"0" * 18_000, "image/png")
    api.progress(job, 60, step="Generando gráficos", current=3, total=5)
    ids["running"] = job["id"]
    api.enqueue("informe.laboratorio", queue="informes", payload={"protocolo": 1236})
    api.ok("POST", "/v1/queues/correo/pause")
    return ids


def history(server, tenant: str) -> None:
    """An hour of finished work in the per-minute counts the leader keeps (normally counted from
    the jobs as each minute ends): a morning's rhythm, with a bad spell of failures."""
    db = sqlite3.connect(server.store[1] + "/tarea.db", timeout=10)
    now = int(time.time() * 1000) // 60000 * 60000
    rows = []
    for m in range(1, 61):
        minute = now - m * 60000
        base = 30 + 18 * math.sin(m / 7) + (m % 5) * 3
        for queue, share in (("informes", 0.5), ("etiquetas", 0.35), ("correo", 0.15)):
            ok = int(base * share * 4)
            failed = (3 if 18 <= m <= 22 and queue == "correo" else 0) + (1 if m % 11 == 0 else 0)
            dead = 1 if m in (20, 21) and queue == "correo" else 0
            rows.append((tenant, minute, queue, ok, failed, dead, 0))
    db.executemany("INSERT OR REPLACE INTO job_stats VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def shot(page, name: str, **kw) -> None:
    page.mouse.move(0, 0)  # no row under the pointer
    page.screenshot(path=str(OUT / name), **kw)


def test_screenshots_of_the_main_pages(lab, pages):
    OUT.mkdir(parents=True, exist_ok=True)
    ids = seed(lab.api)
    page = pages.new(viewport=LAPTOP, color_scheme="light")
    page.goto(lab.url + "/ui/signin")
    expect(page.locator("#key")).to_be_focused()
    shot(page, "signin.png")

    sign_in(page, lab)
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(8)
    # Two jobs ticked for a retry: the bar of the selection shows under the list.
    for name in ("dead", "cancelled"):
        page.locator(f"tr[data-id='{ids[name]}'] input[type=checkbox]").check()
    expect(page.locator("[data-testid=selected-count]")).to_have_text("2 selected")
    page.wait_for_timeout(300)  # the bar rises in for 0.15 s
    shot(page, "jobs.png")

    page.goto(f"{lab.url}/ui/jobs/{ids['running']}")
    expect(page.locator(".progress-card [role=progressbar]")).to_have_attribute("aria-valuenow", "60")
    expect(page.locator("[data-live=live]")).to_be_visible()
    page.wait_for_timeout(500)  # the bar's width glides for 0.45 s
    shot(page, "job.png", full_page=True)

    page.goto(f"{lab.url}/ui/jobs/{ids['dead']}")
    expect(page.locator("[data-testid=error-code]")).to_be_visible()
    shot(page, "job-dead.png", full_page=True)

    history(lab, "lab-rosario")
    page.goto(lab.url + "/ui/overview")
    expect(page.locator("[data-section=chart] .chart__ok").first).to_be_visible()
    shot(page, "overview.png", full_page=True)

    page.goto(lab.url + "/ui/queues")
    expect(page.locator("table.table--queues tbody tr")).to_have_count(5)
    shot(page, "queues.png")

    phone = pages.new(viewport=PHONE, locale="es-AR", is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(phone, lab)
    expect(phone.locator("table.table--jobs tbody tr")).to_have_count(8)
    shot(phone, "jobs-phone.png")
