"""Integrations Admins edit, Integrations Viewers only look, and nothing with runs is deleted (the page says why)."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from integrations.models import Action, Integration
from runs.models import Run

SAVE_BUTTON = 'name="_save"'


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", password="root-password-123")


@pytest.fixture
def run(action):
    return Run.objects.create(action=action, integration=action.integration)


@pytest.mark.parametrize("page", ["integrations_integration_add", "integrations_action_add"])
def test_integrations_admin_can_open_add_pages(client, admin_user, page):
    client.force_login(admin_user)

    response = client.get(reverse(f"admin:{page}"))

    assert response.status_code == 200
    assert SAVE_BUTTON in response.content.decode()


def test_integrations_admin_can_change_and_save(client, admin_user, action, change_form_data):
    client.force_login(admin_user)
    url = reverse("admin:integrations_action_change", args=[action.pk])
    page = client.get(url)
    assert SAVE_BUTTON in page.content.decode()

    response = client.post(url, change_form_data(page, name="Open ticket"))

    assert response.status_code == 302
    assert Action.objects.get(pk=action.pk).name == "Open ticket"


def test_integrations_admin_can_add_an_action(client, admin_user, integration, change_form_data):
    client.force_login(admin_user)
    url = reverse("admin:integrations_action_add")

    response = client.post(
        url, change_form_data(client.get(url), integration=integration.pk, name="Close", slug="close", url="/close")
    )

    assert response.status_code == 302
    assert integration.actions.get().slug == "close"


def test_integrations_admin_may_not_delete_an_integration(client, admin_user, integration):
    client.force_login(admin_user)

    response = client.get(reverse("admin:integrations_integration_delete", args=[integration.pk]))

    assert response.status_code == 403


@pytest.mark.parametrize("model", ["integration", "action"])
def test_viewer_gets_a_view_only_page(client, viewer_user, action, model):
    client.force_login(viewer_user)
    obj = action if model == "action" else action.integration

    response = client.get(reverse(f"admin:integrations_{model}_change", args=[obj.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"View {model}" in html
    assert SAVE_BUTTON not in html
    assert "<textarea" not in html and 'type="password"' not in html
    assert '<div class="readonly">' in html


def test_viewer_post_is_refused(client, viewer_user, action, change_form_data):
    client.force_login(viewer_user)
    url = reverse("admin:integrations_action_change", args=[action.pk])

    response = client.post(url, change_form_data(client.get(url), name="Hijacked"))

    assert response.status_code == 403
    assert Action.objects.get(pk=action.pk).name == "Create ticket"


def test_viewer_cannot_open_add_pages(client, viewer_user):
    client.force_login(viewer_user)

    assert client.get(reverse("admin:integrations_integration_add")).status_code == 403
    assert client.get(reverse("admin:integrations_action_add")).status_code == 403


def test_integration_without_runs_can_be_deleted_by_a_superuser(client, superuser):
    integration = Integration.objects.create(name="Unused", slug="unused")
    client.force_login(superuser)
    url = reverse("admin:integrations_integration_delete", args=[integration.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Integration.objects.filter(pk=integration.pk).exists()


def test_integration_with_runs_says_why_it_cannot_be_deleted(client, superuser, integration, run):
    client.force_login(superuser)
    url = reverse("admin:integrations_integration_delete", args=[integration.pk])

    page = client.get(url)
    response = client.post(url, {"post": "yes"})

    for answer in (page, response):
        assert answer.status_code == 200
        assert "“Acme” has 1 run; runs keep their integration and action, so it cannot be deleted. " \
            "Archive it instead" in answer.content.decode()
        assert 'name="post"' not in answer.content.decode()  # no "Yes, I’m sure"
    assert Integration.objects.filter(pk=integration.pk).exists()


def test_action_with_runs_says_why_it_cannot_be_deleted(client, admin_user, action, run):
    Run.objects.create(action=action, integration=action.integration)
    client.force_login(admin_user)
    change_page = client.get(reverse("admin:integrations_action_change", args=[action.pk]))

    response = client.post(reverse("admin:integrations_action_delete", args=[action.pk]), {"post": "yes"})

    assert 'class="deletelink"' in change_page.content.decode()
    assert response.status_code == 200
    assert "“Acme · Create ticket” has 2 runs; runs keep their action, so it cannot be deleted. " \
        "Archive its integration instead" in response.content.decode()
    assert Action.objects.filter(pk=action.pk).exists()


def test_bulk_delete_of_actions_with_runs_says_which_and_why(client, admin_user, action, run):
    spare = Action.objects.create(integration=action.integration, name="Spare", slug="spare", url="/spare")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:integrations_action_changelist"),
        {"action": "delete_selected", "_selected_action": [action.pk, spare.pk], "post": "yes"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "“Acme · Create ticket” has 1 run; runs keep their action" in html
    assert "Spare" not in html.split('class="errorlist kept-by-runs"')[1]
    assert Action.objects.count() == 2


def test_action_without_runs_can_be_deleted(client, admin_user, action):
    client.force_login(admin_user)

    response = client.post(reverse("admin:integrations_action_delete", args=[action.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Action.objects.filter(pk=action.pk).exists()


def test_bulk_delete_is_not_offered_for_integrations(client, superuser, integration):
    client.force_login(superuser)

    response = client.get(reverse("admin:integrations_integration_changelist"))

    assert 'value="delete_selected"' not in response.content.decode()
    assert 'value="archive"' in response.content.decode()
