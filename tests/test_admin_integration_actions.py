"""The integration page lists its actions as links, and adds an action to this integration in one click."""

import pytest
from django.urls import reverse

from integrations.models import Action


def integration_page(client, integration):
    return client.get(reverse("admin:integrations_integration_change", args=[integration.pk]))


def test_each_action_row_links_to_its_page(client, admin_user, action):
    other = Action.objects.create(integration=action.integration, name="Close ticket", slug="close", url="/close")
    client.force_login(admin_user)

    html = integration_page(client, action.integration).content.decode()

    for item in (action, other):
        url = reverse("admin:integrations_action_change", args=[item.pk])
        assert f'<a href="{url}">{item.name}</a>' in html
    # The rows' hidden ids go back with the page, or saving it would fail; rows are in name order.
    assert f'name="actions-0-id" value="{other.pk}"' in html and f'name="actions-1-id" value="{action.pk}"' in html


def test_add_action_opens_the_add_form_with_this_integration_chosen(client, admin_user, integration):
    client.force_login(admin_user)
    add_url = reverse("admin:integrations_action_add") + f"?integration={integration.pk}"

    html = integration_page(client, integration).content.decode()
    form = client.get(add_url)

    assert f'<a class="addlink" href="{add_url}">Add action</a>' in html
    assert form.context["adminform"].form["integration"].value() == str(integration.pk)
    assert f'<option value="{integration.pk}" selected>Acme</option>' in form.content.decode()


def test_viewers_get_no_add_action_link(client, viewer_user, action):
    client.force_login(viewer_user)

    html = integration_page(client, action.integration).content.decode()

    assert "Add action" not in html
    assert reverse("admin:integrations_action_change", args=[action.pk]) in html


def test_an_integration_without_actions_says_so(client, admin_user, integration):
    client.force_login(admin_user)

    html = integration_page(client, integration).content.decode()

    assert "No actions yet." in html


@pytest.mark.parametrize("count", [0, 2])
def test_the_page_saves_with_its_actions_listed(client, admin_user, integration, change_form_data, count):
    for index in range(count):
        Action.objects.create(integration=integration, name=f"A{index}", slug=f"a{index}", url="/a")
    client.force_login(admin_user)
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    response = client.post(url, change_form_data(client.get(url), name="Acme Corp"))

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Acme Corp"
    assert integration.actions.count() == count
