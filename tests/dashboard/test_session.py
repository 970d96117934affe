"""Signing in with an API key, a wrong key, deep links, and signing out."""
from __future__ import annotations

import re

from conftest import sign_in, unique
from playwright.sync_api import expect


def test_a_wrong_key_is_refused_with_the_servers_message_and_a_good_one_signs_in(server, pages):
    page = pages.new()
    page.goto(server.url + "/ui")
    expect(page).to_have_url(re.compile(r"/ui/signin"))
    expect(page.get_by_role("heading", name="Sign in to tarea")).to_be_visible()
    # Where keys come from is explained on the page.
    expect(page.get_by_role("heading", name="Where do keys come from?")).to_be_visible()
    expect(page.get_by_text("tarea keys create --tenant lab-rosario")).to_be_visible()

    page.locator("#key").fill("tarea_" + "0" * 64)
    page.get_by_role("button", name="Sign in").click()
    alert = page.locator("form [role=alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("unauthorized")
    expect(page).to_have_url(re.compile(r"/ui/signin"))

    page.locator("#key").fill(server.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))
    expect(page.locator("[data-testid=tenant]")).to_have_text("acme")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    # The key itself is nowhere in the browser's storage.
    stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
    assert server.key not in stored


def test_sign_out_returns_to_sign_in_and_ends_the_session(server, pages):
    page = pages.new()
    sign_in(page, server)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/signin"))
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    assert page.evaluate("fetch('/ui/session').then(r => r.status)") == 401
    page.goto(server.url + "/ui/queues")
    expect(page).to_have_url(re.compile(r"/ui/signin\?next=%2Fui%2Fqueues"))


def test_a_link_to_a_job_leads_there_after_signing_in(server, api, pages):
    job = api.enqueue(unique("informe.enlace"), payload={"protocolo": 1234})
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs/{job['id']}")
    expect(page).to_have_url(re.compile(f"/ui/jobs/{job['id']}$"))
    expect(page.locator("[data-testid=job-id]")).to_have_text(job["id"])
    expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "queued")
    # Back and forward between pages need no reload.
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("link", name="Queues").click()
    expect(page.get_by_role("heading", name="Queues")).to_be_visible()
    page.go_back()
    expect(page.locator("[data-testid=job-id]")).to_have_text(job["id"])
    assert page.evaluate("window.__sameDocument") is True
