"""A read-only key's session: it sees everything, its buttons are disabled and say why, and
the server refuses its changes even when the page is bypassed."""
from __future__ import annotations

from conftest import sign_in, unique
from playwright.sync_api import expect

POST_WITH_TOKEN = """async (path) => {
  const session = await (await fetch('/ui/session')).json();
  const res = await fetch(path, {method: 'POST', credentials: 'same-origin',
                                 headers: {'X-CSRF-Token': session.csrf}});
  return {status: res.status, body: await res.json()};
}"""


def test_a_read_only_session_sees_jobs_but_cannot_act(server, api, pages):
    dead = api.dead_job(unique("informe.lectura"))
    queue = unique("lectura")
    api.enqueue(unique("pdf.render"), queue=queue)
    page = pages.new()
    sign_in(page, server, key=server.read_only_key)
    expect(page.locator("[data-role=read-only]")).to_have_text("read-only")
    expect(page.locator(f"tr[data-id='{dead['id']}']")).to_be_visible()

    page.locator(f"tr[data-id='{dead['id']}'] a").click()
    retry = page.locator("[data-action=retry]")
    expect(retry).to_be_disabled()
    expect(retry).to_have_attribute("title", "This key can only read")
    expect(page.locator("#readonly-note")).to_contain_text("This key can only read")
    retry.click(force=True)
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Bypassing the page: a POST with the session's own CSRF token is still refused.
    answer = page.evaluate(POST_WITH_TOKEN, f"/v1/jobs/{dead['id']}/retry")
    assert answer["status"] == 403, answer
    assert answer["body"]["error"]["code"] == "forbidden", answer
    assert api.job(dead["id"])["state"] == "dead"

    page.get_by_role("link", name="Queues").click()
    pause = page.locator(f"tr[data-queue='{queue}'] [data-action=pause]")
    expect(pause).to_be_disabled()
    expect(pause).to_have_attribute("title", "This key can only read")
    answer = page.evaluate(POST_WITH_TOKEN, f"/v1/queues/{queue}/pause")
    assert (answer["status"], answer["body"]["error"]["code"]) == (403, "forbidden"), answer


def test_the_read_only_explanation_is_in_spanish_too(server, api, pages):
    dead = api.dead_job(unique("informe.lectura"))
    page = pages.new(locale="es-AR")
    sign_in(page, server, key=server.read_only_key, path=f"/ui/jobs/{dead['id']}")
    expect(page.locator("[data-action=retry]")).to_have_attribute("title", "Esta clave solo puede leer")
    expect(page.locator("[data-role=read-only]")).to_have_text("solo lectura")


def test_a_read_only_session_cannot_act_on_queues_schedules_batches_or_keys(server, api, pages):
    queue = unique("lectura")
    api.enqueue(unique("pdf.render"), queue=queue)
    schedule = unique("cierre-diario")
    api.ok("PUT", f"/v1/schedules/{schedule}", json={"cron": "0 22 * * *", "job": {"kind": unique("cierre.caja")}})
    batch = api.ok("POST", "/v1/batches", json={"jobs": [{"kind": unique("fila.importar")}]})["id"]
    page = pages.new()
    sign_in(page, server, key=server.read_only_key, path="/ui/queues")
    edit = page.locator(f"tr[data-queue='{queue}'] [data-action=edit]")
    expect(edit).to_be_disabled()
    expect(edit).to_have_attribute("title", "This key can only read")

    page.goto(server.url + "/ui/schedules")
    row = page.locator(f"tr[data-schedule='{schedule}']")
    for action in ("run", "pause"):
        expect(row.locator(f"[data-action={action}]")).to_be_disabled()
    row.locator("[data-action=run]").click(force=True)
    expect(page.get_by_role("dialog")).to_have_count(0)
    answer = page.evaluate(POST_WITH_TOKEN, f"/v1/schedules/{schedule}/run")
    assert (answer["status"], answer["body"]["error"]["code"]) == (403, "forbidden"), answer

    page.goto(f"{server.url}/ui/batches/{batch}")
    expect(page.locator("[data-action=cancel]")).to_be_disabled()
    expect(page.locator("#readonly-note")).to_be_visible()

    # A read-only admin sees tenants and keys but can neither create nor revoke.
    admin = pages.new()
    sign_in(admin, server, key=server.new_key("acme", "--admin", "--read-only"), path="/ui/admin")
    expect(admin.locator("[data-action=create-key]")).to_be_disabled()
    expect(admin.locator("[data-section=keys] [data-action=revoke]").first).to_be_disabled()
