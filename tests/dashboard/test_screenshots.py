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

    lab.api.ok("PUT", "/v1/queues/informes", json={"concurrency": 4, "rate_limit": 2})
    lab.api.ok("PUT", "/v1/queues/etiquetas", json={"concurrency": 1, "max_depth": 5000})
    page.goto(lab.url + "/ui/queues")
    expect(page.locator("table.table--queues tbody tr")).to_have_count(5)
    expect(page.locator("tr[data-queue=informes] [data-setting=rate_limit]")).to_have_text("2/s")
    shot(page, "queues.png")

    phone = pages.new(viewport=PHONE, locale="es-AR", is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(phone, lab)
    expect(phone.locator("table.table--jobs tbody tr")).to_have_count(8)
    shot(phone, "jobs-phone.png")


def claim(api, queue: str, kind: str, n: int, worker: str = "external") -> list:
    return api.ok("POST", "/v1/worker/claim", json={
        "queues": [queue], "kinds": [kind], "max": n, "lease_ms": 600_000, "worker": worker})["jobs"]


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.2)
    return found


def seed_operations(api) -> dict:
    """The lab's cron schedules, three batches (done, under way, with failures), two external
    workers at work, files, and limits on its queues."""
    ids = {}
    # Schedules: two that have run (made fast, then given their real pattern), one that never
    # has, and one that found its queue full and was paused.
    daily = {"timezone": "America/Argentina/Buenos_Aires", "paused": False}
    api.ok("PUT", "/v1/queues/contable", json={"max_depth": 1})
    api.enqueue("asiento.exportar", queue="contable")
    for name, kind, queue in [("informe-diario", "informe.diario", "informes"), ("sincronizar-stock", "stock.sync", "default"),
                              ("exportar-contable", "asiento.exportar", "contable")]:
        api.ok("PUT", f"/v1/schedules/{name}", json={"cron": "*/2 * * * * *", "job": {"kind": kind, "queue": queue}})
    wait_for(lambda: all(s["runs"] or s["last_error"] for s in api.ok("GET", "/v1/schedules")["schedules"]))
    api.ok("POST", "/v1/schedules/exportar-contable/pause")
    api.ok("PUT", "/v1/schedules/informe-diario", json={
        "cron": "0 7 * * 1-5", **daily, "job": {"kind": "informe.diario", "queue": "informes", "payload": {"sucursal": "Centro"}}})
    api.ok("PUT", "/v1/schedules/sincronizar-stock", json={"cron": "*/15 * * * *", "job": {"kind": "stock.sync"}, "paused": False})
    api.ok("PUT", "/v1/schedules/recordatorio-vacunas", json={
        "cron": "0 9 * * *", **daily, "job": {"kind": "correo.recordatorio", "queue": "correo"}})

    # Batches: labels (all printed), a spreadsheet import under way, a mailing that failed.
    done = api.ok("POST", "/v1/batches", json={"jobs": [{"kind": "etiqueta.zpl", "queue": "etiquetas", "payload": {"sku": f"A-{i}"}} for i in range(12)]})
    for job in claim(api, "etiquetas", "etiqueta.zpl", 12, worker="impresora-zebra"):
        api.complete(job)
    ids["batch"] = api.ok("POST", "/v1/batches", json={
        "jobs": [{"kind": "fila.importar", "queue": "importar", "payload": {"fila": i}} for i in range(40)],
        "on_complete": {"kind": "importacion.resumen", "queue": "importar"}})["id"]
    rows = claim(api, "importar", "fila.importar", 28, worker="importador-1")
    for job in rows[:24]:
        api.complete(job)
    for job in rows[24:26]:
        api.fail(job, "sku_unknown", "el SKU no existe en el catálogo")
    for i, job in enumerate(rows[26:]):
        api.progress(job, 30 + 40 * i, step=f"fila {job['payload']['fila']}: buscando precio")
    mailing = api.ok("POST", "/v1/batches", json={"jobs": [{"kind": "correo.campania", "queue": "correo"} for _ in range(6)]})
    for job in claim(api, "correo", "correo.campania", 4, worker="correo-saliente"):
        api.complete(job)
    api.ok("POST", f"/v1/batches/{mailing['id']}/cancel")
    assert done["id"]

    # A scanner at the front desk, at work.
    api.enqueue("escaneo.documento", queue="escaneo", payload={"paciente": "Luna"})
    scan = claim(api, "escaneo", "escaneo.documento", 1, worker="escaner-recepcion")[0]
    api.progress(scan, 35, step="página 2 de 6")

    # Files: uploads, and what jobs made.
    api.ok("POST", "/v1/uploads", params={"filename": "stock-sucursal-centro.csv"},
           content=b"sku,cantidad\n" + b"A-1,12\n" * 9000, headers={"Content-Type": "text/csv"})
    api.ok("POST", "/v1/uploads", params={"filename": "orden-de-analisis-1236.pdf"},
           content=b"%PDF-1.4\n" + b"1" * 184_000, headers={"Content-Type": "application/pdf"})
    api.enqueue("informe.laboratorio", queue="informes", payload={"protocolo": 1237})
    job = claim(api, "informes", "informe.laboratorio", 1, worker="informes-pdf")[0]
    api.upload(job, "Informe 1237 - Toby.pdf", b"%PDF-1.4\n" + b"0" * 92_000, "application/pdf")
    api.upload(job, "Gráficos 1237.png", b"\x89PNG\r\n\x1a\n" + b"0" * 24_000, "image/png")
    api.complete(job, {"paginas": 4})

    api.ok("PUT", "/v1/queues/informes", json={"concurrency": 4, "rate_limit": 2})
    api.ok("PUT", "/v1/queues/etiquetas", json={"concurrency": 1, "max_depth": 5000})
    return ids


def calm(page) -> None:
    """No toast from the last action in the picture."""
    page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())")


def test_screenshots_of_the_operations_pages(lab, pages):
    OUT.mkdir(parents=True, exist_ok=True)
    ids = seed_operations(lab.api)
    for tenant, flags in [("lab-rosario", ["--read-only"]), ("lab-cordoba", []), ("veterinaria-san-roque", [])]:
        lab.new_key(tenant, *flags)
    page = pages.new(viewport=LAPTOP, color_scheme="light")
    sign_in(page, lab, key=lab.new_key("lab-rosario", "--admin"), path="/ui/queues")

    row = page.locator("tr[data-queue=importar]")
    row.locator("[data-action=edit]").click()
    page.locator("#q-concurrency").fill("8")
    page.locator("#q-rate-limit").fill("20")
    page.wait_for_timeout(300)
    shot(page, "queue-edit.png")
    page.get_by_role("dialog").get_by_role("button", name="Save limits").click()
    expect(row.locator("[data-setting=concurrency]")).to_have_text("8")

    page.get_by_role("link", name="Schedules").click()
    expect(page.locator("table.table--schedules tbody tr")).to_have_count(4)
    page.locator("tr[data-schedule=informe-diario] .next-runs summary").click()
    calm(page)
    shot(page, "schedules.png")

    page.get_by_role("link", name="Batches").click()
    expect(page.locator("table.table--batches tbody tr")).to_have_count(3)
    shot(page, "batches.png")
    page.locator(f"tr[data-batch='{ids['batch']}'] a.id-link").click()
    expect(page.locator("[data-testid=percent]")).to_have_text("65%")
    page.wait_for_timeout(500)
    shot(page, "batch.png", full_page=True)

    page.get_by_role("link", name="Workers").click()
    expect(page.locator("[data-worker=importador-1] .run-list__item")).to_have_count(2)
    shot(page, "workers.png", full_page=True)

    page.get_by_role("link", name="Files").click()
    expect(page.locator("table.table--files tbody tr")).to_have_count(4)
    shot(page, "files.png")

    page.get_by_role("link", name="Admin").click()
    expect(page.locator("[data-section=audit] tbody tr").first).to_be_visible()
    shot(page, "admin.png", full_page=True)

    phone = pages.new(viewport=PHONE, locale="es-AR", is_mobile=True, has_touch=True, device_scale_factor=2)
    sign_in(phone, lab, path=f"/ui/batches/{ids['batch']}")
    expect(phone.locator("[data-testid=percent]")).to_have_text("65%")
    phone.wait_for_timeout(500)
    shot(phone, "batch-phone.png", full_page=True)
