"""Pages that follow the server without reloading: a job's live progress (SSE), and the jobs
list refreshing itself while keeping its filters and page in the URL."""
from __future__ import annotations

import re

from conftest import sign_in, unique
from playwright.sync_api import expect


def test_the_progress_bar_follows_a_running_job_until_it_succeeds(server, api, pages):
    kind = unique("informe.lento")
    api.enqueue(kind, payload={"protocolo": 88, "cliente": "Veterinaria San Roque"})
    job = api.claim(kind)
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs/{job['id']}")
    page.evaluate("window.__sameDocument = true")
    badge = page.locator(".job-head .badge")
    bar = page.locator(".progress-card [role=progressbar]")
    expect(badge).to_have_attribute("data-state", "running")
    expect(page.locator("[data-live=live]")).to_be_visible()

    for percent in (20, 40, 60):
        api.progress(job, percent, step=f"página {percent // 20} de 3")
        expect(bar).to_have_attribute("aria-valuenow", str(percent))
        expect(page.locator("[data-testid=percent]")).to_have_text(f"{percent}%")
        expect(page.get_by_text(f"página {percent // 20} de 3")).to_be_visible()
    width = bar.locator(".progress__fill").evaluate("el => el.style.width")
    assert width == "60%", width

    api.complete(job, {"paginas": 3})
    expect(badge).to_have_attribute("data-state", "succeeded")
    expect(badge).to_have_text("succeeded")
    expect(page.locator("[data-section=result] pre")).to_contain_text('"paginas": 3')
    expect(page.locator("[data-live=final]")).to_be_visible()
    # A finished job has nothing to cancel.
    expect(page.locator("[data-action=cancel]")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True


def test_the_jobs_list_refreshes_itself_and_keeps_its_filters(server, api, pages):
    kind = unique("etiquetas.zpl")
    first = api.enqueue(kind)
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    page.evaluate("window.__sameDocument = true")
    rows = page.locator("table.table--jobs tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("#f-kind")).to_have_value(kind)

    second = api.enqueue(kind)
    expect(rows).to_have_count(2, timeout=10000)
    expect(rows.first).to_have_attribute("data-id", second["id"])  # newest first
    api.claim(kind)  # the oldest of the two starts running
    # Coming back to the tab refreshes at once, without waiting for the next round.
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator(f"tr[data-id='{first['id']}']")).to_have_attribute("data-state", "running", timeout=1500)

    # A filter chosen in the page goes into the URL; the kind stays.
    page.locator("#f-state").select_option("queued")
    expect(page).to_have_url(re.compile(rf"state=queued"))
    expect(page).to_have_url(re.compile(rf"kind={re.escape(kind)}"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", second["id"])
    # Reload keeps the filters; Back returns to the previous ones.
    page.reload()
    expect(page.locator("#f-state")).to_have_value("queued")
    expect(page.locator("#f-kind")).to_have_value(kind)
    page.go_back()
    expect(page.locator("#f-state")).to_have_value("")
    expect(rows).to_have_count(2)


def test_the_jobs_list_pages_with_the_cursor(server, api, pages):
    kind = unique("import.sheet")
    api.ok("POST", "/v1/jobs/batch", json={"jobs": [{"kind": kind, "payload": {"fila": i}} for i in range(53)]})
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    rows = page.locator("table.table--jobs tbody tr")
    expect(rows).to_have_count(50)
    expect(page.get_by_role("button", name="First page")).to_have_count(0)
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.get_by_role("button", name="Next page")).to_have_count(0)
    page.get_by_role("button", name="First page").click()
    expect(rows).to_have_count(50)
    expect(page).not_to_have_url(re.compile(r"cursor="))

    # A refresh redraws the rows in place: the reader keeps their place on the page.
    page.mouse.wheel(0, 900)
    # A function, not an expression: polling an expression string runs eval() in the page,
    # which the dashboard's CSP refuses whenever the first check comes too early.
    page.wait_for_function("() => window.scrollY >= 900")
    newest = api.enqueue(kind)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(rows.first).to_have_attribute("data-id", newest["id"])
    assert page.evaluate("window.scrollY") >= 900


def test_an_empty_list_says_what_to_do(server, pages):
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?kind={unique('nada')}")
    expect(page.get_by_text("No jobs match these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))


def test_the_jobs_list_follows_the_live_stream_well_under_the_old_poll(server, api, pages):
    kind = unique("correo.aviso")
    api.enqueue(kind)
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(1)
    hint = page.locator("[data-testid=live-hint]")
    expect(hint).to_have_attribute("data-live", "live")
    expect(hint).to_have_text("Live")
    page.evaluate("window.__sameDocument = true")

    # The list used to poll every 4 s: a new job now shows within the stream's second.
    job = api.enqueue(kind)
    row = page.locator(f"tr[data-id='{job['id']}']")
    expect(row).to_be_visible(timeout=2500)
    api.ok("POST", f"/v1/jobs/{job['id']}/cancel")
    expect(row).to_have_attribute("data-state", "cancelled", timeout=2500)
    assert page.evaluate("window.__sameDocument") is True


def test_the_queues_and_batch_pages_follow_the_live_stream(server, api, pages):
    kind = unique("fila.importar")
    batch = api.ok("POST", "/v1/batches", json={"jobs": [{"kind": kind}, {"kind": kind}]})["id"]
    page = pages.new()
    sign_in(page, server, path=f"/ui/batches/{batch}")
    expect(page.locator("[data-count=queued]")).to_have_text("2")
    expect(page.locator("[data-testid=live-hint]")).to_have_attribute("data-live", "live")
    item = api.claim(kind)
    expect(page.locator("[data-count=running]")).to_have_text("1", timeout=2500)
    api.complete(item)
    expect(page.locator("[data-testid=percent]")).to_have_text("50%", timeout=2500)

    queue = unique("avisos")
    api.enqueue(unique("aviso"), queue=queue)
    page.get_by_role("link", name="Queues").click()
    row = page.locator(f"tr[data-queue='{queue}']")
    expect(row.locator("[data-count=queued]")).to_have_text("1")
    api.enqueue(unique("aviso"), queue=queue)
    expect(row.locator("[data-count=queued]")).to_have_text("2", timeout=2500)


def test_without_the_stream_the_list_polls_and_says_so(server, api, pages):
    kind = unique("correo.aviso")
    page = pages.new()
    # A proxy that does not pass the stream through: the page polls instead.
    page.route("**/v1/events**", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"error":{"code":"unavailable","message":"no streams here"}}'))
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    hint = page.locator("[data-testid=live-hint]")
    expect(hint).to_have_attribute("data-live", "down")
    expect(hint).to_have_text("Updates every few seconds")
    job = api.enqueue(kind)
    expect(page.locator(f"tr[data-id='{job['id']}']")).to_be_visible(timeout=7000)
