"""Tenants and keys, for admin sessions only: a new key's secret is shown once, revoking a key
ends it at once, a session cannot revoke its own key, and the audit log records both."""
from __future__ import annotations

import re

import httpx
from conftest import sign_in, unique
from playwright.sync_api import expect

ADMIN_NAV = ["Overview", "Jobs", "Queues", "Schedules", "Batches", "Workers", "Files", "Admin"]


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_an_admin_creates_a_read_only_key_sees_its_secret_once_and_revokes_it(server, pages):
    admin_key = server.new_key("acme", "--admin")
    page = pages.new()
    sign_in(page, server, key=admin_key, path="/ui/admin")
    expect(page.locator(".nav__link")).to_have_text(ADMIN_NAV)
    expect(page.get_by_role("link", name="Admin")).to_have_attribute("aria-current", "page")
    expect(page.locator("[data-section=tenants] tr[data-tenant='acme']")).to_be_visible()

    tenant = unique("lab-nuevo")
    page.locator("[data-action=create-key]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Create an API key")
    dialog.locator("#new-key-tenant").fill("Lab Nuevo")
    dialog.get_by_role("button", name="Create key").click()
    expect(dialog.get_by_role("alert")).to_contain_text("A tenant name has 1 to 64 lowercase letters")
    dialog.locator("#new-key-tenant").fill(tenant)
    dialog.locator("input[name=role][value=read_only]").check()
    dialog.get_by_role("button", name="Create key").click()

    secret = page.locator("[data-testid=new-key]")
    expect(secret).to_have_text(re.compile(r"^tarea_\w+$"))
    key = secret.text_content()
    expect(page.get_by_role("dialog")).to_contain_text("it is not shown again")
    # It works at once, and only reads.
    assert httpx.get(server.url + "/v1/jobs", headers=bearer(key)).status_code == 200
    refused = httpx.post(server.url + "/v1/jobs", json={"kind": "x"}, headers=bearer(key))
    assert refused.status_code == 403, refused.text
    # A click beside the dialog does not lose the secret; the button closes it, and it is gone.
    page.mouse.click(5, 5)
    expect(secret).to_be_visible()
    page.get_by_role("button", name="Done, I have copied it").click()
    expect(page.locator("[data-testid=new-key]")).to_have_count(0)
    assert key not in page.content()

    row = page.locator(f"[data-section=keys] tr[data-key][data-tenant='{tenant}']")
    expect(row).to_have_count(1)
    expect(row.locator("[data-key-role]")).to_have_text("read-only")
    key_id = row.get_attribute("data-key")
    # The filter shows one tenant's keys.
    page.locator("#key-tenant").select_option(tenant)
    expect(page.locator("[data-section=keys] tr[data-key]")).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"/ui/admin\?tenant={tenant}"))

    row.locator("[data-action=revoke]").click()
    expect(dialog).to_contain_text(f"Revoke the key {key_id}?")
    dialog.get_by_role("button", name="Revoke").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(f"tr[data-key='{key_id}']")).to_have_count(0)
    assert httpx.get(server.url + "/v1/jobs", headers=bearer(key)).status_code == 401
    listed = httpx.get(server.url + "/v1/keys", headers=bearer(admin_key)).json()["keys"]
    assert key_id not in [k["id"] for k in listed]

    page.locator("#key-tenant").select_option("")
    audit = page.locator("[data-section=audit]")
    expect(audit).to_contain_text("POST /v1/keys")
    expect(audit).to_contain_text("DELETE /v1/keys/{id}")


def test_a_session_cannot_revoke_its_own_key(server, pages):
    admin_key = server.new_key("acme", "--admin")
    page = pages.new()
    sign_in(page, server, key=admin_key, path="/ui/admin")
    own = page.locator("[data-section=keys] tr[data-key]", has_text="this session")
    expect(own).to_have_count(1)
    own.locator("[data-action=revoke]").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Revoke").click()
    expect(dialog.get_by_role("alert")).to_contain_text("this is the key you are using")
    expect(dialog.get_by_role("alert")).to_contain_text("conflict")
    dialog.get_by_role("button", name="Close").click()
    expect(own).to_have_count(1)
    assert httpx.get(server.url + "/v1/jobs", headers=bearer(admin_key)).status_code == 200


def test_a_tenant_session_has_no_admin_page(server, pages):
    page = pages.new()
    sign_in(page, server)
    expect(page.locator(".nav__link")).to_have_text(ADMIN_NAV[:-1])
    page.goto(server.url + "/ui/admin")
    expect(page.locator("[data-testid=admins-only]")).to_contain_text("For admins only")
    expect(page.locator("[data-action=create-key]")).to_have_count(0)


def test_the_admin_page_in_spanish(server, pages):
    page = pages.new(locale="es-AR")
    sign_in(page, server, key=server.new_key("acme", "--admin"), path="/ui/admin")
    expect(page.locator("h1")).to_have_text("Cuentas y claves")
    expect(page.locator("[data-action=create-key]")).to_have_text("Crear clave")
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
