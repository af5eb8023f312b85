"""The action page: what it shows of the request, polling and settings (chains among them)."""

import pytest
from django.urls import reverse

from integrations.models import Action

CHAIN_FIELDS = ["next_action", "auto_start", "finish_on_success"]


@pytest.fixture
def page(client, admin_user, action):
    client.force_login(admin_user)
    return client.get(reverse("admin:integrations_action_change", args=[action.pk]))


def fieldset_fields(page, name):
    [fieldset] = [fieldset for fieldset in page.context["adminform"] if fieldset.name == name]
    return [field.field.name for line in fieldset for field in line]


def test_chain_settings_are_on_the_settings_tab(page):
    assert set(CHAIN_FIELDS) <= set(fieldset_fields(page, "Settings"))


def test_the_chain_settings_are_saved_from_the_page(post_action, action, integration):
    follower = Action.objects.create(integration=integration, name="Follow", slug="follow", url="/f")

    response = post_action(next_action=follower.pk, auto_start="", finish_on_success="")

    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.next_action, action.auto_start, action.finish_on_success) == (follower, False, False)


def test_an_action_cannot_follow_itself(post_action, action):
    response = post_action(next_action=action.pk)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["next_action"] == ["An action cannot follow itself."]


def test_saving_the_page_leaves_the_chain_settings_as_they_were(post_action, action, integration):
    follower = Action.objects.create(integration=integration, name="Follow", slug="follow", url="/f")
    Action.objects.filter(pk=action.pk).update(next_action=follower, auto_start=False, finish_on_success=False)

    response = post_action(name="Renamed")

    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.name, action.next_action, action.auto_start, action.finish_on_success) == (
        "Renamed", follower, False, False
    )


def test_first_request_is_safe_to_repeat_is_on_the_request_tab(page, post_action, action):
    assert "safe_to_repeat" in fieldset_fields(page, "Request")

    assert post_action(safe_to_repeat="on").status_code == 302
    action.refresh_from_db()
    assert action.safe_to_repeat is True


def test_the_polling_tab_says_how_the_first_request_and_polling_fit_together(page):
    html = page.content.decode()

    assert "the first request is poll 1" in html
    assert "counts\ntoward the attempt limit (3 = three requests in all)" in html
    assert "(a job already done needs no poll)" in html
    assert "429 or 503 with Retry-After, or the method is GET, PUT or DELETE" in html
    assert "The attempt limit then counts polls." in html


def test_the_field_help_says_what_counts_toward_the_attempt_limit(page):
    form = page.context["adminform"].form

    assert "With a blank polling URL the first request counts" in form.fields["poll_max_attempts"].help_text
    assert "the first request is poll 1" in form.fields["poll_url"].help_text
    assert "503 with Retry-After" in form.fields["safe_to_repeat"].help_text


def test_the_action_list_has_no_chain_column(client, admin_user, action):
    client.force_login(admin_user)

    response = client.get(reverse("admin:integrations_action_changelist"))

    assert response.status_code == 200
    assert "column-next_action" not in response.content.decode()
    assert "column-polling_mode" in response.content.decode()
