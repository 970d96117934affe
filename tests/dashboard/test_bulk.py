"""Bulk actions on the jobs list: checkboxes and the bar of the selection, "Act on all
matching…" on the URL's filters, a dry run that counts before the dialog asks, and the audit
log that records the change (and not the count)."""
from __future__ import annotations

import re

import pytest
from conftest import PHONE, Api, sign_in, unique
from playwright.sync_api import expect

ACTION = "POST /v1/jobs/actions"
POST_JSON_WITH_TOKEN = """async ([path, body]) => {
  const session = await (await fetch('/ui/session')).json();
  const res = await fetch(path, {method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
                                 headers: {'X-CSRF-Token': session.csrf, 'Content-Type': 'application/json'}});
  return {status: res.status, body: await res.json()};
}"""


@pytest.fixture(scope="module")
def admin(server):
    """An admin key, to read the audit log."""
    a = Api(server.url, server.new_key("default", "--admin"))
    yield a
    a.close()


def bulk_entries(admin: Api, tenant: str) -> list[dict]:
    entries = admin.ok("GET", "/v1/audit", params={"tenant": tenant, "limit": 1000})["entries"]
    return [e for e in entries if e["action"].startswith(ACTION)]


def states(api: Api, jobs: list[dict]) -> list[str]:
    return [api.job(j["id"])["state"] for j in jobs]


def finished(api: Api, kind: str, queue: str) -> dict:
    api.enqueue(kind, queue=queue)
    return api.complete(api.claim(kind, queue), {"ok": True})


def dead(api: Api, kind: str, queue: str) -> dict:
    api.enqueue(kind, queue=queue, max_attempts=1)
    job = api.fail(api.claim(kind, queue), "pdf_failed", "no field 'iva'")
    assert job["state"] == "dead", job
    return job


def test_cancel_all_matching_the_queue_filter(server, api, admin, pages):
    kind = unique("informe.mensual")
    informes, correo = unique("informes"), unique("correo")
    targets = [api.enqueue(kind, queue=informes) for _ in range(6)]
    others = [api.enqueue(kind, queue=correo) for _ in range(2)]
    before = len(bulk_entries(admin, server.tenant))
    page = pages.new()
    sign_in(page, server)
    page.locator("#f-queue").select_option(informes)
    expect(page).to_have_url(re.compile(rf"queue={informes}"))
    rows = page.locator("table.table--jobs tbody tr")
    expect(rows).to_have_count(6)

    page.locator("[data-action=bulk-all]").click()
    page.locator("[data-action=all-cancel]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Cancel 6 jobs?")
    expect(dialog).to_contain_text("6 match the filter.")
    dialog.get_by_role("button", name="Cancel 6 jobs").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(".toast")).to_have_text("6 jobs cancelled")
    # The rows are reloaded at once, not at the next round of the timer.
    expect(page.locator("tbody tr[data-state=cancelled]")).to_have_count(6, timeout=2000)

    assert states(api, targets) == ["cancelled"] * 6
    assert states(api, others) == ["queued"] * 2
    # One entry in the audit log, with the number changed; none for the dry run before it.
    entries = bulk_entries(admin, server.tenant)
    assert len(entries) == before + 1, entries[:3]
    assert entries[0]["count"] == 6, entries[0]
    assert entries[0]["target"] == "/v1/jobs/actions", entries[0]
    assert entries[0]["action"] == "POST /v1/jobs/actions (cancel)", entries[0]
    assert entries[0]["tenant"] == server.tenant, entries[0]


def test_the_dry_run_changes_nothing_and_counts_what_cannot_be_cancelled(server, api, admin, pages):
    kind, queue = unique("etiquetas.zpl"), unique("etiquetas")
    done = finished(api, kind, queue)  # first: a claim takes the oldest queued job
    waiting = [api.enqueue(kind, queue=queue) for _ in range(3)]
    before = len(bulk_entries(admin, server.tenant))
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?queue={queue}")
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(4)

    # The menu closes with Escape, and opens again.
    toggle = page.locator("[data-action=bulk-all]")
    toggle.click()
    expect(page.locator("[data-action=all-cancel]")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("[data-action=all-cancel]")).to_be_hidden()
    expect(toggle).to_be_focused()
    toggle.click()
    page.locator("[data-action=all-cancel]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Cancel 3 jobs?")
    expect(dialog).to_contain_text("4 match the filter; 1 of them is not in a state that can be cancelled.")
    expect(dialog.get_by_role("button", name="Cancel 3 jobs")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(toggle).to_be_focused()

    assert states(api, waiting) == ["queued"] * 3
    assert api.job(done["id"])["state"] == "succeeded"
    assert len(bulk_entries(admin, server.tenant)) == before  # a dry run is not an action


def test_two_dead_jobs_are_retried_by_their_checkboxes(server, api, admin, pages):
    kind, queue = unique("presupuesto.pdf"), unique("obras")
    jobs = [dead(api, kind, queue) for _ in range(3)]  # newest first in the list: jobs[2], jobs[1], jobs[0]
    before = len(bulk_entries(admin, server.tenant))
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    rows = page.locator("table.table--jobs tbody tr")
    expect(rows).to_have_count(3)
    bar = page.get_by_role("region", name="Selected jobs")
    expect(bar).to_be_hidden()

    # The header's checkbox takes every row of the page, and gives them back.
    select_all = page.locator("#select-all")
    select_all.check()
    expect(bar.locator("[data-testid=selected-count]")).to_have_text("3 selected")
    select_all.uncheck()
    expect(bar).to_be_hidden()

    box = lambda job: page.locator(f"tr[data-id='{job['id']}'] input[type=checkbox]")  # noqa: E731
    box(jobs[0]).check()
    expect(bar.locator("[data-testid=selected-count]")).to_have_text("1 selected")
    box(jobs[1]).check()
    expect(bar.locator("[data-testid=selected-count]")).to_have_text("2 selected")
    expect(page.locator(f"tr[data-id='{jobs[1]['id']}']")).to_have_class(re.compile(r"\bis-selected\b"))
    assert select_all.evaluate("el => el.indeterminate") is True

    # A refresh that redraws the rows (a new job arrives) keeps the selection.
    newer = dead(api, kind, queue)
    expect(rows).to_have_count(4, timeout=10000)
    expect(box(jobs[0])).to_be_checked()
    expect(box(jobs[1])).to_be_checked()
    expect(box(jobs[2])).not_to_be_checked()
    expect(box(newer)).not_to_be_checked()
    expect(bar.locator("[data-testid=selected-count]")).to_have_text("2 selected")

    bar.locator("[data-action=bulk-retry]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Retry 2 jobs?")
    dialog.get_by_role("button", name="Retry 2 jobs").click()
    expect(page.locator(".toast")).to_have_text("2 jobs queued again")
    expect(bar).to_be_hidden()
    expect(page.locator("tbody input[type=checkbox]:checked")).to_have_count(0)
    expect(page.locator(f"tr[data-id='{jobs[0]['id']}']")).to_have_attribute("data-state", "queued", timeout=2000)

    assert states(api, jobs) == ["queued", "queued", "dead"]
    assert api.job(newer["id"])["state"] == "dead"
    entries = bulk_entries(admin, server.tenant)
    assert len(entries) == before + 1 and entries[0]["count"] == 2, entries[:3]


def test_delete_all_matching_and_nothing_to_delete(server, api, pages):
    kind, queue = unique("correo.resultados"), unique("correo")
    done = [finished(api, kind, queue) for _ in range(2)]
    waiting = api.enqueue(kind, queue=queue)
    page = pages.new()
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(3)

    page.locator("[data-action=bulk-all]").click()
    page.locator("[data-action=all-delete]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Delete 2 jobs?")
    expect(dialog).to_contain_text("3 match the filter; 1 of them is not in a state that can be deleted.")
    dialog.get_by_role("button", name="Delete 2 jobs").click()
    expect(page.locator(".toast")).to_have_text("2 jobs deleted")
    expect(page.locator("table.table--jobs tbody tr")).to_have_count(1, timeout=2000)
    for job in done:
        assert api.http.get(f"/v1/jobs/{job['id']}").status_code == 404

    # The queued job left cannot be deleted: the dialog says so and offers only Close.
    page.locator(f"tr[data-id='{waiting['id']}'] input[type=checkbox]").check()
    page.locator("[data-action=bulk-delete]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Nothing to delete")
    expect(dialog).to_contain_text("The selected job is not in a state that can be deleted.")
    expect(dialog.get_by_role("button")).to_have_count(1)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    assert api.job(waiting["id"])["state"] == "queued"


def test_on_a_phone_in_spanish_each_card_has_its_checkbox(server, api, pages):
    kind = unique("informe.movil")
    job = api.enqueue(kind)
    page = pages.new(locale="es-AR", viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, server, path=f"/ui/jobs?kind={kind}")
    card = page.locator(f"tr[data-id='{job['id']}']")
    expect(page.locator("#select-all")).to_be_hidden()  # the header row is not shown on a phone
    box = card.get_by_role("checkbox")
    expect(box).to_be_visible()
    box.tap()
    expect(page.locator("[data-testid=selected-count]")).to_have_text("1 seleccionado")
    page.get_by_role("region", name="Trabajos seleccionados").get_by_role("button", name="Cancelar").tap()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("¿Cancelar 1 trabajo?")
    dialog.get_by_role("button", name="Cancelar 1 trabajo").tap()
    expect(page.locator(".toast")).to_have_text("1 trabajo cancelado")
    assert api.job(job["id"])["state"] == "cancelled"


def test_a_read_only_session_cannot_select_or_act(server, api, pages):
    kind = unique("informe.lectura")
    job = api.enqueue(kind)
    page = pages.new()
    sign_in(page, server, key=server.read_only_key, path=f"/ui/jobs?kind={kind}")
    row = page.locator(f"tr[data-id='{job['id']}']")
    expect(row).to_be_visible()
    expect(page.locator("#readonly-note")).to_contain_text("This key can only read")
    for box in [row.get_by_role("checkbox"), page.locator("#select-all")]:
        expect(box).to_be_disabled()
        expect(box).to_have_attribute("aria-describedby", "readonly-note")
    menu = page.locator("[data-action=bulk-all]")
    expect(menu).to_be_disabled()
    expect(menu).to_have_attribute("title", "This key can only read")
    row.get_by_role("checkbox").click(force=True)
    expect(page.get_by_role("region", name="Selected jobs")).to_be_hidden()
    menu.click(force=True)
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Bypassing the page: even a dry run with the session's CSRF token is refused.
    answer = page.evaluate(POST_JSON_WITH_TOKEN, ["/v1/jobs/actions",
                                                  {"action": "cancel", "ids": [job["id"]], "dry_run": True}])
    assert (answer["status"], answer["body"]["error"]["code"]) == (403, "forbidden"), answer
    assert api.job(job["id"])["state"] == "queued"


def test_every_bulk_text_has_both_plural_forms_in_both_languages(server, pages):
    page = pages.new()
    page.goto(server.url + "/ui/signin")
    dicts = page.evaluate("import('/ui/assets/i18n.js').then(m => m.DICTS)")
    plural = ["bulk.selected", "bulk.skipped", "bulk.notApplicable"]
    plural += [f"bulk.{part}{scope}" for part in ["match", "none"] for scope in ["Filter", "Ids", "All"]]
    for action in ["retry", "cancel", "delete"]:
        plural += [f"bulk.title.{action}", f"bulk.confirm.{action}", f"bulk.done.{action}"]
        for key in [f"bulk.verb.{action}", f"bulk.all.{action}", f"bulk.none.{action}", f"bulk.can.{action}",
                    f"bulk.effect.{action}"]:
            assert key in dicts["en"] and key in dicts["es"], key
    for key in plural:
        for lang in ["en", "es"]:
            assert f"{key}.one" in dicts[lang] and f"{key}.other" in dicts[lang], (lang, key)
    forms = page.evaluate("""import('/ui/assets/i18n.js').then(m => {
        const out = {};
        for (const lang of ['en', 'es']) {
            m.setLang(lang);
            out[lang] = [1, 2, 1000].map(n => m.tn('bulk.title.cancel', n));
        }
        return out;
    })""")
    assert forms["en"] == ["Cancel 1 job?", "Cancel 2 jobs?", "Cancel 1,000 jobs?"], forms
    assert forms["es"][:2] == ["¿Cancelar 1 trabajo?", "¿Cancelar 2 trabajos?"], forms
    assert forms["es"][2] in ("¿Cancelar 1000 trabajos?", "¿Cancelar 1.000 trabajos?"), forms
