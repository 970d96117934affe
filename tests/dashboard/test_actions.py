"""Retry, cancel, pause and resume from the pages, each after a confirmation dialog."""
from __future__ import annotations

from conftest import sign_in, unique
from playwright.sync_api import expect


def test_a_dead_job_shows_its_error_and_can_be_retried(server, api, pages):
    dead = api.dead_job(unique("presupuesto.pdf"), "pdf_failed", "the template 'presupuesto' has no field 'iva'")
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs/{dead['id']}")
    expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "dead")
    expect(page.locator("[data-testid=error-code]")).to_have_text("pdf_failed")
    expect(page.locator("[data-testid=error-message]")).to_have_text("the template 'presupuesto' has no field 'iva'")
    expect(page.locator("[data-testid=attempts]")).to_contain_text("1 of 1")
    expect(page.locator("[data-action=cancel]")).to_have_count(0)

    # Escape closes the dialog and changes nothing.
    page.locator("[data-action=retry]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Retry this job?")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator("[data-action=retry]")).to_be_focused()
    assert api.job(dead["id"])["state"] == "dead"

    page.locator("[data-action=retry]").click()
    page.get_by_role("dialog").get_by_role("button", name="Retry").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "queued")
    expect(page.locator(".job-head .badge")).to_have_text("queued")
    expect(page.get_by_text("The job is queued again.")).to_be_visible()
    expect(page.locator("[data-testid=error-code]")).to_have_count(0)
    expect(page.locator("[data-action=cancel]")).to_be_visible()
    assert api.job(dead["id"])["state"] == "queued"


def test_cancel_asks_first_and_an_error_stays_in_the_dialog(server, api, pages):
    kind = unique("email.send")
    job = api.enqueue(kind)
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs/{job['id']}")
    expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "queued")
    # Someone else cancels it meanwhile: the page's Cancel then meets the server's refusal.
    page.locator("[data-action=cancel]").click()
    api.ok("POST", f"/v1/jobs/{job['id']}/cancel")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Cancel job").click()
    expect(dialog.get_by_role("alert")).to_contain_text("illegal_transition")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    # The live stream has brought the page up to date.
    expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "cancelled")
    expect(page.locator("[data-action=retry]")).to_be_visible()


def test_the_dialog_keeps_focus_inside_it(server, api, pages):
    dead = api.dead_job(unique("label.render"))
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs/{dead['id']}")
    page.locator("[data-action=retry]").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    for key in ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]:
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement.closest('dialog') !== null"), key
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_a_queue_is_paused_and_resumed_from_the_queues_page(server, api, pages):
    queue = unique("informes")
    api.enqueue(unique("pdf.render"), queue=queue)
    page = pages.new()
    sign_in(page, server, path="/ui/queues")
    row = page.locator(f"tr[data-queue='{queue}']")
    expect(row.locator("[data-testid=queue-status]")).to_have_text("active")
    expect(row.locator("[data-count=queued]")).to_have_text("1")

    row.get_by_role("button", name="Pause").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Pause the queue “{queue}”?")
    dialog.get_by_role("button", name="Pause").click()
    expect(row.locator("[data-testid=queue-status]")).to_have_text("paused")
    queues = {q["name"]: q for q in api.ok("GET", "/v1/queues")["queues"]}
    assert queues[queue]["paused"] is True

    row.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_role("button", name="Resume").click()
    expect(row.locator("[data-testid=queue-status]")).to_have_text("active")
    queues = {q["name"]: q for q in api.ok("GET", "/v1/queues")["queues"]}
    assert queues[queue]["paused"] is False
