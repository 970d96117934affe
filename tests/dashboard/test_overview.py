"""The overview page, a job's attempts, and the jobs list's search, time and all-tenant filters."""
from __future__ import annotations

import re

from conftest import Api, sign_in, unique
from playwright.sync_api import expect


def test_a_job_page_lists_every_attempt_with_how_it_ended(server, api, pages):
    kind = unique("informe.pdf")
    job = api.enqueue(kind, max_attempts=3)
    first = api.claim(kind)
    api.fail(first, "smtp_refused", "el servidor rechazó el destinatario", retryable=True)
    api.ok("POST", f"/v1/jobs/{job['id']}/retry")
    second = api.claim(kind)
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs/{job['id']}")
    history = page.locator("[data-section=attempts]")
    expect(history.locator("tr[data-attempt]")).to_have_count(2)
    expect(history.locator("tr[data-attempt='2'] .badge")).to_have_attribute("data-state", "running")
    expect(history.locator("tr[data-attempt='1'] .badge")).to_have_attribute("data-state", "failed")
    expect(history.locator("tr[data-attempt='1']")).to_contain_text("smtp_refused")
    expect(history.locator("tr[data-attempt='1']")).to_contain_text("el servidor rechazó el destinatario")
    # The running attempt ends while the page is open: the history follows the live stream.
    api.complete(second, {"paginas": 3})
    expect(history.locator("tr[data-attempt='2'] .badge")).to_have_attribute("data-state", "succeeded")
    expect(history.locator("tr[data-attempt='2'] td[data-label='Took']")).not_to_have_text("running")


def test_the_jobs_list_searches_payloads_and_filters_by_creation_time(server, api, pages):
    kind = unique("informe.pdf")
    wanted = api.enqueue(kind, payload={"protocolo": "HP-2026-7781", "animal": "Pirata"})
    api.enqueue(kind, payload={"protocolo": "HP-2026-7782", "animal": "Nala"})
    page = pages.new()
    sign_in(page, server)
    page.locator("#f-kind").fill(kind)
    page.locator("#f-search").fill("pirat")
    page.locator("#f-search").press("Enter")
    expect(page).to_have_url(re.compile(r"search=pirat"))
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(1)
    expect(page.locator(f"tr[data-id='{wanted['id']}']")).to_be_visible()

    page.locator("#f-search").fill("HP-2026-778")
    page.locator("#f-search").press("Enter")
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(2)
    page.locator("#f-since").select_option("1h")
    expect(page).to_have_url(re.compile(r"since=1h"))
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(2)

    page.locator("#f-search").fill("ningún-animal-así")
    page.locator("#f-search").press("Enter")
    expect(page.get_by_text("No jobs match these filters")).to_be_visible()


def test_an_admin_lists_every_tenants_jobs_at_once(server, api, pages):
    kind = unique("etiqueta.qr")
    own = api.enqueue(kind)
    other = unique("lab-cordoba")
    other_api = Api(server.url, server.new_key(other))
    try:
        theirs = other_api.enqueue(kind)
        page = pages.new()
        sign_in(page, server, key=server.new_key("acme", "--admin"))
        page.locator("#f-tenant").select_option("*")
        page.locator("#f-kind").fill(kind)
        page.locator("#f-kind").press("Enter")
        expect(page.locator(f"tr[data-id='{theirs['id']}'] td.col-tenant")).to_have_text(other)
        expect(page.locator(f"tr[data-id='{own['id']}'] td.col-tenant")).to_have_text("acme")
        # Bulk actions act in one tenant: none on a list of all of them.
        expect(page.locator("input[data-select]")).to_have_count(0)
    finally:
        other_api.close()


def test_the_overview_shows_what_runs_and_waits_and_who_works(server, api, pages):
    queue = unique("obras")
    kind = unique("presupuesto.xlsx")
    api.enqueue(kind, queue=queue)
    api.enqueue(kind, queue=queue)
    running = api.claim(kind, queue)
    page = pages.new()
    sign_in(page, server, path="/ui/overview")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("[data-tile=running] .tile__value")).not_to_have_text("0")
    row = page.locator(f"tr[data-queue='{queue}']")
    expect(row).to_contain_text("1")
    expect(page.locator("[data-section=chart] svg.chart")).to_be_visible()
    expect(page.locator("[data-section=chart] .chart__bucket")).to_have_count(60)
    # The node of this server is alive and leads; one node and one worker, in the singular.
    expect(page.locator("tr[data-node] .badge")).to_contain_text(["leader"])
    expect(page.locator("[data-tile=nodes] .tile__value")).to_have_text("1")
    expect(page.locator("[data-tile=nodes] .tile__sub")).to_have_text(re.compile(r"^node · \d+ external workers?$"))

    page.locator("[data-window=day]").click()
    expect(page).to_have_url(re.compile(r"window=day"))
    expect(page.locator("[data-window=day]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-section=chart] .chart__bucket")).to_have_count(96)

    # Each queue links to its jobs.
    row.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs\?queue={queue}"))
    api.complete(running)


def test_the_overview_in_spanish_on_a_phone(server, pages):
    page = pages.new(locale="es-AR", viewport={"width": 390, "height": 844})
    sign_in(page, server, path="/ui/overview")
    expect(page.locator("h1")).to_have_text("Resumen")
    expect(page.locator("[data-window=week]")).to_have_text("Última semana")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
