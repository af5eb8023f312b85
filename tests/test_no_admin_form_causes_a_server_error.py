"""No admin form causes a server error: JSON nested 100,000 deep, 1e999, lone surrogates, NUL and bytes that
are not UTF-8, typed into every field of every add and change page (inline rows too), of Run now, Refire,
Reject and the manifest import, and into the lists' search and filters, answer the page again with the fault
on its field (or save what is harmless text); every page still renders afterwards. SQLite and PostgreSQL."""

from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from integrations.forms import SafeJSONField
from integrations.models import Action, Integration
from runs.models import Run, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

DEEP = "[" * 100_000 + "]" * 100_000
# Typed into a JSON field, each is refused on that field.
JSON_FAULTS = [DEEP, "1e999", '{"limit": 1e999}', '"a\\ud800b"', '{"\\udfff": "x"}', '{"q": "a\\u0000b"}']
# Typed into any field: a NUL, and the bytes of a lone surrogate (ED A0 80), which no browser sends as text.
RAW_FAULTS = ["a%00b", "a%ED%A0%80b"]


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", password="root-password-123")


@pytest.fixture
def site(client, superuser, server):
    """A superuser's client, an integration with a secret and an action with a row of every inline, and runs."""
    client.force_login(superuser)
    integration = Integration.objects.create(name="Acme", slug="acme", base_url=server.base_url)
    integration.secrets.create(name="TOKEN", value="token-value")
    server.script("/jobs", reply(json={"status": "failed", "id": "j-1"}))
    action = make_action(server.base_url, integration=integration, inputs=["note"], mappings=[("job", "id")],
                         stop=[("status", "equals", "failed", "failure")], body_type="json", body='{"a": 1}')
    action.continue_conditions.create(path="status", value="failed", position=0)
    failed = drive(start_run(action, {"note": "n"}))
    assert failed.status == Status.FAILED
    return {"client": client, "integration": integration, "action": action, "failed": failed}


def _encoded(data, field, raw):
    """``data`` as a form body, with ``field`` holding ``raw`` (already percent-encoded)."""
    others = urlencode([(name, value) for name, value in data.items() if name != field], doseq=True)
    return f"{others}&{quote(field)}={raw}"


def _json_fields(response):
    """The names of the page's JSON fields, inline rows' included, as posted."""
    forms = [response.context["adminform"].form]
    forms += [form for inline in response.context["inline_admin_formsets"] for form in inline.formset.forms]
    return {form.add_prefix(name) for form in forms for name, field in form.fields.items()
            if isinstance(field, SafeJSONField)}


def _error_on(response, name):
    forms = [response.context["adminform"].form]
    forms += [form for inline in response.context["inline_admin_formsets"] for form in inline.formset.forms]
    return any(form.add_prefix(field) == name for form in forms for field in form.errors)


def _fuzz_page(client, change_form_data, url):
    """Post every field of the add or change page at ``url`` holding each fault; the faults found."""
    page = client.get(url)
    assert page.status_code == 200, url
    data = change_form_data(page)
    json_fields = _json_fields(page)
    assert json_fields or "integrations" not in url  # the pages that have JSON fields are fuzzed with JSON
    faults = []
    for field in (name for name in data if not name.endswith(("_FORMS", "-id", "-action", "-integration"))):
        values = [quote(text, safe="") for text in JSON_FAULTS] + RAW_FAULTS
        for raw in values:
            response = client.post(url, _encoded(data, field, raw), content_type="application/x-www-form-urlencoded")
            if response.status_code not in (200, 302):
                faults.append((url, field, raw[:20], response.status_code))
            elif field in json_fields and raw not in RAW_FAULTS and not _error_on(response, field):
                faults.append((url, field, raw[:20], "no error on the field"))
    return faults


def assert_every_page_renders(client):
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        assert client.get(reverse("admin:%s_%s_changelist" % info)).status_code == 200, info
    for obj in [*Integration.objects.all(), *Action.objects.all(), *Run.objects.all()]:
        info = (obj._meta.app_label, obj._meta.model_name)
        assert client.get(reverse("admin:%s_%s_change" % info, args=[obj.pk])).status_code == 200, obj
    for integration in Integration.objects.all():
        assert client.get(f"/api/integrations/{integration.pk}/export/").status_code == 200


def test_every_add_page_refuses_them_on_the_field(site, change_form_data):
    client = site["client"]
    faults = []
    for model, model_admin in admin.site._registry.items():
        if model_admin.has_add_permission(_request(client)):
            faults += _fuzz_page(client, change_form_data,
                                 reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))

    assert faults == []
    assert_every_page_renders(client)


def test_the_integration_and_action_pages_refuse_them_on_the_field(site, change_form_data):
    client = site["client"]
    faults = _fuzz_page(client, change_form_data,
                        reverse("admin:integrations_integration_change", args=[site["integration"].pk]))
    faults += _fuzz_page(client, change_form_data, reverse("admin:integrations_action_change",
                                                           args=[site["action"].pk]))

    assert faults == []
    assert_every_page_renders(client)


def _request(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = User.objects.get(username="root")
    return request


def test_run_now_refire_and_reject_refuse_them_on_the_field(site):
    client = site["client"]
    no_inputs = make_action(site["integration"].base_url, integration=site["integration"], slug="no-inputs")
    faults = []
    for url, field in [(reverse("admin:integrations_action_run", args=[no_inputs.pk]), "variables"),
                       (reverse("admin:integrations_action_run", args=[site["action"].pk]), "note"),
                       (reverse("admin:runs_run_refire", args=[site["failed"].pk]), "note")]:
        for raw in [quote(text, safe="") for text in JSON_FAULTS] + RAW_FAULTS:
            response = client.post(url, f"{field}={raw}", content_type="application/x-www-form-urlencoded")
            if response.status_code == 302:  # taken as text (an input's value): the run's pages must show it
                continue
            if response.status_code != 200 or field == "variables" and field not in response.context["form"].errors:
                faults.append((url, raw[:20], response.status_code))

    assert faults == []
    assert_every_page_renders(client)


def test_a_rejection_reason_holding_nul_is_kept_as_text(site, server):
    client = site["client"]
    action = make_action(server.base_url, integration=site["integration"], slug="confirmed", finish_on_success=False)
    server.script("/jobs", reply(json={"status": "done"}))
    run = drive(start_run(action))
    assert run.status == Status.WAITING_CONFIRMATION, run.reason

    response = client.post(reverse("admin:runs_run_reject", args=[run.pk]), "reason=not%00this%ED%A0%80one",
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Status.FAILED and "not\ufffdthis\ufffd" in run.reason and "one." in run.reason
    assert_every_page_renders(client)


def test_the_manifest_import_refuses_them_on_the_field(site):
    client = site["client"]
    url = reverse("admin:integrations_integration_import_manifest")
    faults = []
    for raw in [quote(text, safe="") for text in JSON_FAULTS] + RAW_FAULTS:
        for field in ("manifest", "name", "secrets"):
            body = urlencode({"name": "Onboarding", "manifest": '{"execute": []}', "secrets": ""})
            body = _encoded(dict(part.split("=", 1) for part in body.split("&")), field, raw)
            response = client.post(url, body, content_type="application/x-www-form-urlencoded")
            if response.status_code not in (200, 302):
                faults.append((field, raw[:20], response.status_code))

    assert faults == []
    assert_every_page_renders(client)


@pytest.mark.parametrize("changelist", ["runs_run", "integrations_integration", "integrations_action"])
def test_a_search_or_filter_holding_them_is_no_server_error(site, changelist):
    client = site["client"]
    url = reverse(f"admin:{changelist}_changelist")
    params = ["q", "status__exact", "integration__id__exact", "action__id__exact", "created_at__gte", "archived__exact"]
    faults = []
    for param in params:
        for raw in ["1e999", "99999999999999999999999", "%ED%A0%80", "a%00b", quote(DEEP[:2000])]:
            response = client.get(f"{url}?{param}={raw}")
            if response.status_code not in (200, 302):
                faults.append((param, raw[:20], response.status_code))

    assert faults == []
