import os
from importlib import import_module

import pytest
from django import forms
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.urls import reverse

from integrations.forms import WriteOnlyWidget
from integrations.models import Action, Integration
from tests.production import production_server, production_static_root  # noqa: F401 (fixtures for every test)

# The slow tests, left out by `./test.sh -m "not slow"` (the README's quick selection): those that start a browser,
# a cluster, gunicorn or a live server (by their marks and fixtures), and the modules below, which start Python
# processes (a second or more each: Django's start-up) or fuzz the API.
SLOW_FIXTURES = {"browser", "live_server", "production_server", "production_static_root"}
SLOW_MODULES = {
    "test_api_definitions_schemathesis",  # schemathesis: hundreds of generated requests
    "test_api_schema_fuzz",
    "test_no_admin_form_causes_a_server_error",  # every hostile input in every admin field: 1,020 s and 452 s
    "test_no_input_causes_a_server_error",  # under load in the parallel run of 2026-12-03
    "test_demo_follows_the_address",  # manage.py in a process of its own
    "test_production_check_deploy",
    "test_production_settings",
}


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER") and not config.pluginmanager.has_plugin("tests.parallel"):
        raise pytest.UsageError("Run the tests in parallel with ./test.sh -n 2 (or python -m pytest -p tests.parallel -n 2): "
                                "without tests/parallel.py the workers share one Redis database and clear each other's.")


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.nodeid.partition("::")[0].rpartition("/")[2].removesuffix(".py")
        if (module in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames)
                or item.get_closest_marker("browser") or item.get_closest_marker("cluster")):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with no throttle counted (the cache is shared: Redis or files, settings.CACHES)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def integration(db):
    return Integration.objects.create(name="Acme", slug="acme", base_url="https://api.acme.test/v1")


@pytest.fixture
def action(integration):
    return Action.objects.create(integration=integration, name="Create ticket", url="/tickets", method="POST")


@pytest.fixture
def groups(db):
    """The groups made by the 0002_groups migration, made again if a transactional test flushed them."""
    import_module("integrations.migrations.0002_groups").create_groups(apps, None)
    from tests.webhook_helpers import grant_group_permissions

    grant_group_permissions()  # webhooks' 0002 migration, whose grants a flush took too
    from tests import schedule_helpers

    schedule_helpers.grant_group_permissions()  # and runs' 0013 (schedules)


@pytest.fixture
def admin_user(groups):
    """A staff member of the Integrations Admin group (not a superuser)."""
    user = User.objects.create_user("alice", password="alice-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Integrations Admin"))
    return user


@pytest.fixture
def viewer_user(groups):
    """A staff member of the Integrations Viewer group."""
    user = User.objects.create_user("bob", password="bob-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Integrations Viewer"))
    return user


@pytest.fixture
def admin_api(admin_user):
    """An APIClient that sends an Integrations Admin's token, as a script would."""
    from tests.definitions_api import token_client

    return token_client(admin_user)


@pytest.fixture
def change_form_data():
    """POST data that resubmits an admin add/change page as rendered (its form and every inline).

    Write-only fields are sent blank, as a browser sends them. Keyword arguments override fields.
    """

    def build(response, **overrides):
        data = {}
        for bound in response.context["adminform"].form:
            data.update(_field_data(bound))
        for inline in response.context["inline_admin_formsets"]:
            formset = inline.formset
            for bound in formset.management_form:
                data[bound.html_name] = bound.value()
            for form in formset.forms:
                for bound in form:
                    data.update(_field_data(bound))
        data.update(overrides)
        return data

    return build


@pytest.fixture
def post_action(client, admin_user, action, change_form_data):
    """Resubmit the action's change page, as an Integrations Admin, with some fields changed; returns the response."""
    client.force_login(admin_user)

    def post(**changes):
        url = reverse("admin:integrations_action_change", args=[action.pk])
        return client.post(url, change_form_data(client.get(url), **changes))

    return post


def _field_data(bound):
    widget = getattr(bound.field.widget, "widget", bound.field.widget)  # unwrap related-field wrappers
    value = bound.value()
    if isinstance(widget, WriteOnlyWidget):
        return {bound.html_name: ""}
    if isinstance(widget, forms.CheckboxInput):
        return {bound.html_name: "on"} if value else {}
    if isinstance(widget, forms.MultiWidget):
        parts = value if isinstance(value, (list, tuple)) else widget.decompress(value)
        return {f"{bound.html_name}_{index}": "" if part is None else part for index, part in enumerate(parts)}
    return {bound.html_name: "" if value is None else value}


@pytest.fixture
def server():
    from tests.servers import ScriptedServer

    with ScriptedServer() as running:
        yield running


@pytest.fixture
def q_sync(monkeypatch):
    """django-q2 in synchronous mode: async_task runs the task in this process."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
