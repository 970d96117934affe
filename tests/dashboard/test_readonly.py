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
