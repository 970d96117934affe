"""The pages beyond jobs: a queue's limits, schedules, batches, workers and files, each checked
against the API it shows (httpx with the test's key) and acted on through its dialogs."""
from __future__ import annotations

import re

from conftest import sign_in, unique
from playwright.sync_api import expect


def queues(api) -> dict:
    return {q["name"]: q for q in api.ok("GET", "/v1/queues")["queues"]}


def test_a_queues_limits_are_edited_and_the_servers_refusal_is_shown(server, api, pages):
    queue = unique("informes")
    api.enqueue(unique("pdf.render"), queue=queue)
    page = pages.new()
    sign_in(page, server, path="/ui/queues")
    row = page.locator(f"tr[data-queue='{queue}']")
    expect(row.locator("[data-setting=concurrency]")).to_have_text("No limit")

    row.locator("[data-action=edit]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Limits of the queue “{queue}”")
    expect(dialog.locator("#q-concurrency")).to_be_focused()
    # The server owns the ranges: its refusal stays in the dialog, at the field it names.
    dialog.locator("#q-concurrency").fill("0")
    dialog.get_by_role("button", name="Save limits").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("concurrency must be at least 1")
    expect(alert).to_contain_text("invalid_request")
    expect(dialog.locator("#q-concurrency")).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator("#q-concurrency")).to_be_focused()
    assert queues(api)[queue]["concurrency"] is None

    dialog.locator("#q-concurrency").fill("3")
    dialog.locator("#q-rate-limit").fill("2.5")
    dialog.locator("#q-max-depth").fill("500")
    dialog.locator("#q-max-depth").press("Enter")
    expect(dialog).to_have_count(0)
    expect(page.get_by_text(f"The limits of “{queue}” are saved.")).to_be_visible()
    expect(row.locator("[data-setting=concurrency]")).to_have_text("3")
    expect(row.locator("[data-setting=rate_limit]")).to_have_text("2.5/s")
    expect(row.locator("[data-setting=max_depth]")).to_have_text("500")
    q = queues(api)[queue]
    assert (q["concurrency"], q["rate_limit"], q["max_depth"]) == (3, 2.5, 500), q

    # Text that is no number is refused before asking; an emptied field means no limit.
    row.locator("[data-action=edit]").click()
    expect(dialog.locator("#q-rate-limit")).to_have_value("2.5")
    dialog.locator("#q-rate-limit").fill("fast")
    dialog.get_by_role("button", name="Save limits").click()
    expect(dialog.get_by_role("alert")).to_contain_text("must be a number")
    dialog.locator("#q-rate-limit").fill("")
    dialog.get_by_role("button", name="Save limits").click()
    expect(dialog).to_have_count(0)
    expect(row.locator("[data-setting=rate_limit]")).to_have_text("No limit")
    q = queues(api)[queue]
    assert (q["concurrency"], q["rate_limit"], q["max_depth"]) == (3, None, 500), q


def test_a_schedule_shows_its_next_runs_pauses_and_runs_now(server, api, pages):
    name = unique("informe-diario")
    kind = unique("informe.diario")
    view = api.ok("PUT", f"/v1/schedules/{name}", json={
        "cron": "0 3 * * *", "timezone": "America/Argentina/Buenos_Aires",
        "job": {"kind": kind, "queue": "informes", "payload": {"sucursal": "Rosario"}},
    })
    page = pages.new()
    sign_in(page, server, path="/ui/schedules")
    row = page.locator(f"tr[data-schedule='{name}']")
    expect(row).to_contain_text("0 3 * * *")
    expect(row).to_contain_text("America/Argentina/Buenos_Aires")
    expect(row).to_contain_text(kind)
    expect(row.locator("[data-testid=schedule-status]")).to_have_text("active")
    # The next run: relative, with the exact time on hover; the ones after it unfold.
    next_run = row.locator("[data-testid=next-run] time")
    expect(next_run).to_have_attribute("datetime", view["next_run_at"])
    expect(next_run).to_have_text(re.compile(r"^in \d+|^now$"))  # 03:00 in Buenos Aires is 06:00 UTC
    row.locator(".next-runs summary").click()
    expect(row.locator(".next-runs__list li")).to_have_count(5)
    expect(row.locator(".next-runs__list li").first).to_contain_text("03:00")

    row.locator("[data-action=pause]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Pause the schedule “{name}”?")
    dialog.get_by_role("button", name="Pause").click()
    expect(row.locator("[data-testid=schedule-status]")).to_have_text("paused")
    assert api.ok("GET", f"/v1/schedules/{name}")["paused"] is True
    expect(row.locator("[data-testid=next-run]")).to_have_text("paused")

    row.locator("[data-action=run]").click()
    expect(dialog).to_contain_text(kind)
    dialog.get_by_role("button", name="Run now").click()
    link = page.locator("[data-testid=toast-job]")
    expect(link).to_be_visible()
    jobs = api.ok("GET", "/v1/jobs", params={"kind": kind})["jobs"]
    assert len(jobs) == 1 and f"schedule:{name}" in jobs[0]["tags"], jobs
    link.click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{jobs[0]['id']}$"))
    expect(page.locator(".job-head__kind")).to_have_text(kind)

    page.go_back()
    row.locator("[data-action=resume]").click()
    page.get_by_role("dialog").get_by_role("button", name="Resume").click()
    expect(row.locator("[data-testid=schedule-status]")).to_have_text("active")
    assert api.ok("GET", f"/v1/schedules/{name}")["paused"] is False


def test_a_batch_is_listed_followed_live_and_cancelled_with_the_right_count(server, api, pages):
    kind = unique("fila.importar")  # nobody runs it: the items stay queued
    made = api.ok("POST", "/v1/batches", json={
        "jobs": [{"kind": kind, "payload": {"fila": i}} for i in range(4)],
        "on_complete": {"kind": unique("importacion.lista")},
    })
    batch = made["id"]
    page = pages.new()
    sign_in(page, server, path="/ui/batches")
    row = page.locator(f"tr[data-batch='{batch}']")
    expect(row.locator(".badge")).to_have_attribute("data-state", "running")
    expect(row.locator("[data-testid=batch-progress]")).to_contain_text("0 of 4")
    expect(row.locator("[data-count=queued]")).to_contain_text("4")

    # An item dies while the list is open: the list follows without a reload.
    item = api.claim(kind)
    api.fail(item, "bad_row", "la fila 2 no tiene SKU")
    expect(row.locator("[data-count=dead]")).to_contain_text("1")
    expect(row.locator("[data-testid=batch-progress]")).to_contain_text("1 of 4")

    row.locator("a.id-link").click()
    expect(page).to_have_url(re.compile(rf"/ui/batches/{batch}$"))
    expect(page.locator("[data-testid=percent]")).to_have_text("25%")
    expect(page.locator("[data-count=queued]")).to_have_text("3")
    expect(page.locator("a[data-tile=dead]")).to_have_attribute("href", f"/ui/jobs?batch={batch}&state=dead")

    page.locator("[data-action=cancel]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel 3 items?")
    dialog.get_by_role("button", name="Cancel 3 items").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_text("3 items cancelled")).to_be_visible()
    expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "failed")
    expect(page.locator("[data-count=cancelled]")).to_have_text("3")
    expect(page.locator("[data-action=cancel]")).to_have_count(0)
    view = api.ok("GET", f"/v1/batches/{batch}")
    assert view["state"] == "failed" and view["counts"]["cancelled"] == 3, view

    # Retry names every item that did not succeed; Escape changes nothing.
    page.locator("[data-action=retry]").click()
    expect(dialog).to_contain_text("Retry 4 items?")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # Each count opens the jobs list on those items.
    page.locator("a[data-tile=dead]").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs\?batch={batch}&state=dead"))
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(1)
    expect(page.locator(f"tr[data-id='{item['id']}']")).to_be_visible()

    # A job of the batch links back to its batch page.
    page.locator(f"tr[data-id='{item['id']}'] a").click()
    page.locator("[data-testid=batch-link]").click()
    expect(page).to_have_url(re.compile(rf"/ui/batches/{batch}$"))


def test_the_workers_page_shows_the_leader_and_what_each_worker_runs(server, api, pages):
    queue = unique("escaneo")
    kind = unique("escaneo.documento")
    worker = unique("escaner")
    job = api.enqueue(kind, queue=queue)
    claimed = api.ok("POST", "/v1/worker/claim", json={
        "queues": [queue], "kinds": [kind], "lease_ms": 60000, "worker": worker,
    })["jobs"][0]
    api.progress(claimed, 40, step="página 2 de 5")
    page = pages.new()
    sign_in(page, server, path="/ui/workers")
    node = page.locator("[data-node]")
    expect(node).to_have_count(1)
    expect(node.locator("[data-testid=leader]")).to_have_text("leader")
    expect(node).to_contain_text("api + worker")

    card = page.locator(f"[data-worker='{worker}']")
    expect(card).to_contain_text(queue)
    running = card.locator(f"[data-job='{job['id']}']")
    expect(running).to_contain_text(kind)
    expect(running).to_contain_text("página 2 de 5")
    expect(running).to_contain_text("40%")
    expect(card.locator("[data-testid=running]")).to_have_text("1")

    # Progress moves on the page while it is open.
    api.progress(claimed, 80, step="página 4 de 5")
    expect(running).to_contain_text("80%")
    running.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{job['id']}$"))
    api.complete(claimed)


def test_files_list_uploads_and_job_files_with_their_size(server, api, pages):
    name = f"{unique('inventario')}.csv"
    content = b"sku,cantidad\n" + b"A-1,3\n" * 400  # 2,413 bytes
    upload = api.ok("POST", "/v1/uploads", params={"filename": name}, content=content,
                    headers={"Content-Type": "text/csv"})
    kind = unique("informe.pdf")
    api.enqueue(kind)
    job = api.claim(kind)
    made = api.upload(job, "Informe 88.pdf", b"%PDF-1.4\n" + b"0" * 3000, "application/pdf")
    api.complete(job)

    page = pages.new()
    sign_in(page, server, path="/ui/artifacts")
    row = page.locator(f"tr[data-artifact='{upload['id']}']")
    expect(row.locator("[data-testid=file]")).to_have_text(name)
    expect(row.locator("[data-testid=size]")).to_have_text("2.4 kB")
    expect(row.locator("[data-testid=size]")).to_have_attribute("title", "2,413 bytes")
    expect(row).to_contain_text("upload")
    href = row.locator("[data-testid=file]").get_attribute("href")
    assert href == f"/v1/artifacts/{upload['id']}/content", href
    # The link downloads with the session's cookie.
    got = page.request.get(server.url + href)
    assert got.status == 200 and got.body() == content

    row = page.locator(f"tr[data-artifact='{made['id']}']")
    expect(row.locator("[data-testid=file]")).to_have_text("Informe 88.pdf")
    expect(row).to_contain_text(kind)
    row.locator(f"a[href='/ui/jobs/{job['id']}']").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{job['id']}$"))


def test_the_new_pages_fit_a_phone_in_spanish(server, api, pages):
    kind = unique("fila.importar")
    api.ok("POST", "/v1/batches", json={"jobs": [{"kind": kind}, {"kind": kind}]})
    page = pages.new(locale="es-AR", viewport={"width": 390, "height": 844})
    sign_in(page, server, path="/ui/batches")
    expect(page.locator("h1")).to_have_text("Lotes")
    for path, title in [("/ui/batches", "Lotes"), ("/ui/schedules", "Programaciones"), ("/ui/workers", "Workers"),
                        ("/ui/artifacts", "Archivos"), ("/ui/queues", "Colas")]:
        page.goto(server.url + path)
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator(".loading")).to_have_count(0)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone: {width}px"
    # The menu folds behind its button and holds every page.
    page.locator(".menu-toggle").click()
    expect(page.locator(".nav__link")).to_have_text(
        ["Resumen", "Trabajos", "Colas", "Programaciones", "Lotes", "Workers", "Archivos"])
