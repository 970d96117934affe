"""An admin key's session: it says so, shows each job's tenant, and can look at another
tenant's jobs (the `tenant` parameter of the API) down to a job's live page."""
from __future__ import annotations

import re

from conftest import Api, sign_in, unique
from playwright.sync_api import expect


def test_an_admin_session_can_look_at_another_tenants_jobs(server, api, pages):
    own = api.enqueue(unique("informe.rosario"))
    other = unique("lab-madrid")
    other_api = Api(server.url, server.new_key(other))
    try:
        kind = unique("informe.madrid")
        other_api.enqueue(kind)
        job = other_api.claim(kind)
        admin_key = server.new_key("acme", "--admin")
        page = pages.new()
        sign_in(page, server, key=admin_key)
        expect(page.locator("[data-role=admin]")).to_have_text("admin")
        expect(page.locator("table.table--jobs thead")).to_contain_text("Tenant")
        expect(page.locator(f"tr[data-id='{own['id']}'] td.col-tenant")).to_have_text("acme")

        page.locator("#f-tenant").select_option(other)
        expect(page).to_have_url(re.compile(rf"tenant={other}"))
        row = page.locator(f"tr[data-id='{job['id']}']")
        expect(row.locator("td.col-tenant")).to_have_text(other)
        row.locator("a").click()
        expect(page).to_have_url(re.compile(rf"/ui/jobs/{job['id']}\?tenant={other}"))
        expect(page.locator(".job-head .badge")).to_have_attribute("data-state", "running")
        expect(page.locator("[data-live=live]")).to_be_visible()
        other_api.progress(job, 50)
        expect(page.locator(".progress-card [role=progressbar]")).to_have_attribute("aria-valuenow", "50")
    finally:
        other_api.close()
