"""Stored text never runs as script in Chromium, on any page that shows it, and every page carries a CSP.

Every text field of every model holds markup that would run if it reached a
page unescaped: an <img> with an onerror handler, a <script> that first closes
an attribute, an <svg onload> that closes a single-quoted one, and javascript:
URLs where a URL is stored. Part of it comes in through an export document, as
the reported attack did; the rest is written straight to the database, past
every validator, since escaping must not depend on what validation let in.
Then an Integrations Admin and an Integrations Viewer visit each page that
shows that text: the admin's lists, change forms and delete page, Run now,
Refire, run pages (one followed live by its self-refresh), the Debug view with
Copy as cURL, the chain, the manifest import page, the browsable API and the
API docs. On each: nothing ran (window.__xss stays undefined, no dialog
opened), no element carries an event handler or a javascript: link, the text
is shown as text, the Content-Security-Policy header is there, and the
browser reports no violation of it (the policy breaks nothing the page uses).

The last test puts the original fault back (help text marked safe unescaped) to
show that the policy alone would have stopped the payload, and says so.
"""

import json
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from integrations.models import (
    Action,
    ActionInput,
    ContinueCondition,
    Integration,
    ResponseMapping,
    Secret,
    StopCondition,
)
from integrations.transfer import import_integration
from runs.models import Exchange, ExchangeKind, FailedPart, Run, RunFile, Status
from tests.browser import (  # noqa: F401
    BROWSER,
    browser,
    logged_in_page,
    open_section,
    orm_beside_playwright,
    screenshot,
)

pytestmark = BROWSER

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = '"><script>window.__xss=1</script>'
SVG = "'><svg onload=window.__xss=1>"
PAYLOAD = IMG + SCRIPT + SVG  # 97 characters: fits every CharField but the shortest (the method)
JS_URL = "javascript:window.__xss=1//"
HOSTILE_JSON = {PAYLOAD: PAYLOAD, "list": [IMG, {SCRIPT: SVG}]}

# Collects what the page's Content-Security-Policy blocked, from the first script of every document on.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__violations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
                             + ` at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
});
"""

# What the page holds that stored text could have turned into: an event handler attribute, an inline
# script (JSON data blocks never run), a javascript: URL on a link, form, frame or image.
FIND_ACTIVE_MARKUP = """() => {
    const found = [];
    for (const element of document.querySelectorAll("*")) {
        for (const attribute of element.attributes) {
            if (attribute.name.startsWith("on")) found.push(`${element.tagName} ${attribute.name}`);
        }
    }
    for (const script of document.querySelectorAll("script:not([src])")) {
        if (script.type !== "application/json") found.push(`inline script ${script.textContent.slice(0, 60)}`);
    }
    for (const element of document.querySelectorAll("[href], [src], [action], [formaction]")) {
        for (const name of ["href", "src", "action", "formaction"]) {
            const value = (element.getAttribute(name) || "").replace(/[\\s\\x00-\\x1f]/g, "").toLowerCase();
            if (value.startsWith("javascript:")) found.push(`${element.tagName} ${name}=${value}`);
        }
    }
    return found;
}"""

# The text a person can read on the page, and what its form fields hold.
SHOWN_TEXT = """() => [document.title, document.body.textContent,
    ...Array.from(document.querySelectorAll("input, textarea"), (field) => field.value),
    ...Array.from(document.querySelectorAll("option"), (option) => option.textContent)].join("\\n")"""


@dataclass
class World:
    integration: Integration
    action: Action
    next_action: Action
    failed_run: Run
    active_run: Run
    exchanges: list


def hostile_definitions():
    """An integration and two chained actions: imported from a document, then every text field made hostile."""
    integration, _ = import_integration({
        "name": PAYLOAD, "slug": "hostile", "description": PAYLOAD, "base_url": "https://api.example.com",
        "actions": [{
            "name": PAYLOAD, "slug": "hostile", "description": PAYLOAD, "method": "POST", "url": "/jobs",
            "body_type": "json", "body": '{"note": "{{ note }}", "pick": "{{ pick }}"}',
            "next_action": "next",
            "inputs": [
                {"name": "note", "label": PAYLOAD, "required": False, "default": PAYLOAD},
                {"name": "pick", "label": PAYLOAD, "required": False, "default": IMG, "choices": f"{IMG},{SVG}"},
            ],
        }, {
            "name": PAYLOAD, "slug": "next", "method": "GET", "url": "/next",
        }],
    })
    Integration.objects.filter(pk=integration.pk).update(
        slug=PAYLOAD, image_url=JS_URL, base_url=JS_URL, auth_username=PAYLOAD, api_key_name=PAYLOAD,
        oauth_token_url=JS_URL, oauth_client_id=PAYLOAD, oauth_scope=PAYLOAD, default_headers={PAYLOAD: PAYLOAD})
    Secret.objects.create(integration=integration, name=PAYLOAD, value="s3cret-value")
    action, next_action = integration.actions.get(slug="hostile"), integration.actions.get(slug="next")
    for each in (action, next_action):
        Action.objects.filter(pk=each.pk).update(
            slug=PAYLOAD[:90] + str(each.pk), url=JS_URL, headers={PAYLOAD: PAYLOAD}, params={PAYLOAD: PAYLOAD},
            body=PAYLOAD, accepted_statuses=PAYLOAD, save_as_file=PAYLOAD, files={PAYLOAD: PAYLOAD},
            polling_mode="poll", poll_url=JS_URL, poll_headers={PAYLOAD: PAYLOAD}, poll_params={PAYLOAD: PAYLOAD},
            poll_body_type="raw", poll_body=PAYLOAD, cancel_webhook_url=JS_URL, cancel_webhook_body=PAYLOAD,
        )
    ActionInput.objects.create(action=action, position=3, name=PAYLOAD, label=PAYLOAD, default=PAYLOAD,
                               required=False)
    StopCondition.objects.create(action=action, path=PAYLOAD, target_field=PAYLOAD, value=PAYLOAD)
    ContinueCondition.objects.create(action=action, path=PAYLOAD, value=PAYLOAD)
    ResponseMapping.objects.create(action=action, field=PAYLOAD, path=PAYLOAD)
    return integration, action, next_action


def hostile_exchange(run, kind, *, json_bodies):
    """An exchange whose every text is hostile: as JSON bodies (pretty-printed by the Debug view) or as text."""
    body = json.dumps(HOSTILE_JSON) if json_bodies else f"<job>{PAYLOAD}</job>"
    return Exchange.objects.create(
        run=run, kind=kind, attempt=1, method="POST", url=f"https://api.example.com/{PAYLOAD}",
        request_headers={PAYLOAD: PAYLOAD, "Content-Type": "application/json" if json_bodies else PAYLOAD},
        request_body=body, status_code=500, response_headers={PAYLOAD: PAYLOAD}, response_body=body,
        response_size=len(body), duration_ms=12.5, error=PAYLOAD, failed_part=FailedPart.RESPONSE,
        decision=PAYLOAD,
    )


@pytest.fixture
def world(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    integration, action, next_action = hostile_definitions()
    person = User.objects.create(username=PAYLOAD)
    now = timezone.now()
    failed = Run.objects.create(
        action=action, integration=integration, status=Status.FAILED, reason=PAYLOAD, created_by=person,
        variables={"note": PAYLOAD, PAYLOAD: HOSTILE_JSON}, fields={PAYLOAD: HOSTILE_JSON}, attempt=2,
        started_at=now, finished_at=now)
    exchanges = [hostile_exchange(failed, ExchangeKind.REQUEST, json_bodies=True),
                 hostile_exchange(failed, ExchangeKind.POLL, json_bodies=False),
                 hostile_exchange(failed, ExchangeKind.CALLBACK, json_bodies=True)]
    stored = default_storage.save(f"runs/{failed.pk}/report.txt", ContentFile(PAYLOAD.encode()))
    RunFile.objects.create(run=failed, name=IMG, content_type=PAYLOAD, size=len(PAYLOAD), file=stored)
    # The chain's next step, still polling (no worker runs here), so its page follows it live.
    active = Run.objects.create(
        action=next_action, integration=integration, status=Status.POLLING, reason=PAYLOAD, previous_run=failed,
        variables={PAYLOAD: PAYLOAD}, fields={PAYLOAD: PAYLOAD}, attempt=1, started_at=now)
    exchanges.append(hostile_exchange(active, ExchangeKind.POLL, json_bodies=True))
    return World(integration, action, next_action, failed, active, exchanges)


@pytest.fixture
def admin_page(browser, live_server, admin_user):  # noqa: F811
    page = watched_page(browser, live_server.url, "alice", "alice-password-123")
    yield page
    page.context.close()


@pytest.fixture
def viewer_page(browser, live_server, viewer_user):  # noqa: F811
    page = watched_page(browser, live_server.url, "bob", "bob-password-123")
    yield page
    page.context.close()


def watched_page(browser, url, username, password):  # noqa: F811
    return watch(logged_in_page(browser, url, username, password))


def watch(page):
    """Record the page's policy violations and the dialogs it opens (dismissed) from here on."""
    page.context.add_init_script(WATCH_VIOLATIONS)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return page


def assert_harmless(page, response=None, *, shows=(PAYLOAD,)):
    """Nothing ran on the page, nothing could, it shows ``shows`` as text, and its policy blocked nothing."""
    where = page.url
    if response is not None:
        assert response.status == 200, where
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "object-src 'none'" in policy, (where, policy)
    assert page.evaluate("typeof window.__xss") == "undefined", f"a payload ran on {where}"
    assert page.dialogs == [], (where, page.dialogs)
    assert page.evaluate(FIND_ACTIVE_MARKUP) == [], where
    text = page.evaluate(SHOWN_TEXT)
    for expected in shows:
        assert expected in text, f"{expected!r} is not shown as text on {where}"
    assert page.evaluate("window.__violations") == [], where


def visit(page, url, **expected):
    response = page.goto(url)
    assert_harmless(page, response, **expected)
    return response


def change_url(obj, view="change"):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


def test_the_definitions_pages_show_stored_markup_as_text(admin_page, viewer_page, world):
    for page in (admin_page, viewer_page):
        visit(page, reverse("admin:index"), shows=())
        visit(page, reverse("admin:integrations_integration_changelist"))
        visit(page, reverse("admin:integrations_action_changelist"))
        # A search term comes back on the page (reflected, not stored): it is text there too.
        visit(page, reverse("admin:integrations_action_changelist") + "?q=" + IMG.replace(" ", "+"), shows=(IMG,))
        visit(page, change_url(world.integration))
        for action in (world.action, world.next_action):
            visit(page, change_url(action))
            for section in ("Polling", "Conditions and mappings", "Settings", "Request"):
                open_section(page, section)  # each section's stored text shown, none of it run
                assert_harmless(page)
    screenshot(admin_page, "xss-action-change-admin")
    screenshot(viewer_page, "xss-action-change-viewer")
    # Runs keep their action: its delete page says so, naming it.
    visit(admin_page, change_url(world.action, "delete"))


def test_run_now_and_refire_show_the_inputs_as_text(admin_page, world):
    visit(admin_page, reverse("admin:integrations_action_run", args=[world.action.pk]),
          shows=(PAYLOAD, f"Left blank: {PAYLOAD!r}.", f"(default: {IMG})"))
    screenshot(admin_page, "xss-run-now")
    visit(admin_page, reverse("admin:runs_run_refire", args=[world.failed_run.pk]))


def test_runs_their_log_files_and_chain_show_stored_markup_as_text(admin_page, viewer_page, world):
    for page in (admin_page, viewer_page):
        visit(page, reverse("admin:runs_run_changelist"))
        visit(page, reverse("admin:runs_run_changelist") + "?q=" + SVG.replace(" ", "+"), shows=(SVG,))
        visit(page, change_url(world.failed_run), shows=(PAYLOAD, IMG))  # IMG: the file's name
        assert page.locator("#run-chain .run-chain-step").count() == 2
    screenshot(admin_page, "xss-run-page")


def test_a_run_page_that_follows_its_run_stays_harmless_after_refreshing(admin_page, world):
    page = admin_page
    visit(page, change_url(world.active_run))
    assert page.locator("#run-live").get_attribute("data-active") == "true"
    # The page swaps in what it fetches every two seconds: wait for a swap, then look again.
    page.evaluate("document.querySelector('#run-live .run-summary').dataset.before = 'refresh'")
    page.wait_for_function("() => !document.querySelector('#run-live .run-summary').dataset.before",
                           timeout=15_000)
    assert_harmless(page)


def test_the_debug_view_shows_every_part_of_an_exchange_as_text(admin_page, viewer_page, world):
    for page in (admin_page, viewer_page):
        for exchange in world.exchanges:
            url = reverse("admin:runs_run_exchange", args=[exchange.run_id, exchange.pk])
            visit(page, url)
            for tab in page.locator(".debug-tabs [role=tab]").all():
                tab.click()
                assert_harmless(page)
            if exchange.kind != ExchangeKind.CALLBACK:
                page.click("#tab-request")
                page.click(".copy-curl")
                page.locator(".copy-result").filter(has_text="C").wait_for()  # "Copied." or "Selected: ..."
                assert IMG + SCRIPT in page.inner_text("#curl-command")  # SVG's quote is shell-quoted there
                assert_harmless(page)
    screenshot(admin_page, "xss-debug-view")


def test_the_manifest_import_page_shows_refused_and_imported_markup_as_text(admin_page, world):
    page = admin_page
    visit(page, reverse("admin:integrations_integration_import_manifest"), shows=())
    manifest = {"execute": [{"url": f"https://api.example.com/{{{{ {IMG} }}}}", "method": "GET"}], PAYLOAD: 1}
    page.fill("#id_name", PAYLOAD)
    page.fill("#id_manifest", json.dumps(manifest))
    page.click("input[name=_import]")
    assert page.locator("#manifest-faults li").count() >= 2  # the unknown key and the placeholder, quoted
    assert_harmless(page, shows=(PAYLOAD, IMG))

    page.fill("#id_manifest", json.dumps({"execute": [{"url": "https://api.example.com/jobs", "method": "GET",
                                                        "data": {"note": PAYLOAD}}]}))
    page.fill("#id_slug", "from-a-manifest")
    page.click("input[name=_import]")
    assert "from the manifest" in page.inner_text(".messagelist")
    assert_harmless(page)


def test_the_browsable_api_shows_stored_markup_as_text(admin_page, viewer_page, world):
    run = world.failed_run
    for page in (admin_page, viewer_page):
        for url in ("/api/integrations/", f"/api/integrations/{world.integration.pk}/", "/api/actions/",
                    f"/api/actions/{world.action.pk}/", "/api/runs/", f"/api/runs/{run.pk}/",
                    f"/api/runs/{run.pk}/exchanges/", f"/api/runs/{run.pk}/files/"):
            # JSON writes a quote as \", so the part of the payload without quotes is looked for.
            response = visit(page, url, shows=("<script>window.__xss=1</script>",))
            # DRF's templates lay out with style attributes: allowed here, and only here.
            assert "'unsafe-inline'" in response.headers["content-security-policy"].split("style-src")[1]
    screenshot(admin_page, "xss-browsable-api")


def test_the_api_docs_work_offline_under_the_policy(admin_page, live_server):
    assert_api_docs_work_offline(admin_page, live_server.url)
    screenshot(admin_page, "xss-api-docs")


def test_the_api_docs_work_offline_under_the_policy_in_production(browser, production_server):  # noqa: F811
    # Hashed static names (WhiteNoise's manifest) and DEBUG off: Swagger UI's files must be collected too.
    context = browser.new_context(base_url=production_server.url)
    try:
        page = watch(context.new_page())
        assert_api_docs_work_offline(page, production_server.url)
    finally:
        context.close()


def assert_api_docs_work_offline(page, base_url):
    """Swagger UI comes from this site (drf-spectacular-sidecar), starts and opens an operation, blocked in nothing."""
    elsewhere = []
    page.on("request", lambda request: None if request.url.startswith((base_url, "data:"))
            else elsewhere.append(request.url))
    visit(page, "/api/docs/", shows=())
    page.locator(".swagger-ui .opblock-summary").first.click()
    page.locator(".swagger-ui .opblock-body").first.wait_for()
    assert_harmless(page, shows=("Integrations API", "/api/runs/"))
    assert elsewhere == [], "the docs page asked another site for something"


def test_the_policy_alone_stops_a_payload_that_escapes_escaping(admin_page, world, monkeypatch):
    """Put the original fault back (the default marked safe unescaped): the policy blocks the handler."""
    from django.utils.safestring import mark_safe

    from runs import forms

    monkeypatch.setattr(forms, "format_html", lambda text, *args: mark_safe(text.format(*args)))
    page = admin_page
    response = page.goto(reverse("admin:integrations_action_run", args=[world.action.pk]))

    assert page.locator("img[onerror]").count() >= 1, "the fault is not back: the test proves nothing"
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert any("script-src" in violation for violation in page.evaluate("window.__violations"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
