"""The list of integrations: thumbnails, action counts, and archiving in bulk."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from integrations.models import Action, Integration


@pytest.fixture
def client(client, admin_user):
    client.force_login(admin_user)
    return client


def changelist(client, **params):
    return client.get(reverse("admin:integrations_integration_changelist"), params).content.decode()


def test_thumbnail_is_the_image_url_or_the_default(client, integration):
    Integration.objects.create(name="Logo Co", slug="logo-co", image_url="https://cdn.example.com/logo.png")

    html = changelist(client)

    assert 'src="https://cdn.example.com/logo.png"' in html
    assert 'src="/static/integrations/default-integration.svg"' in html


def test_default_image_is_a_static_file():
    path = finders.find("integrations/default-integration.svg")

    assert path is not None
    assert Path(path).read_text().startswith("<svg")


def test_each_row_counts_its_actions(client, integration, action):
    Action.objects.create(integration=integration, name="Close ticket", url="/close")

    html = changelist(client)

    assert '<td class="field-action_count">2</td>' in html


def test_archive_and_unarchive_the_selected_integrations(client, integration):
    url = reverse("admin:integrations_integration_changelist")

    response = client.post(url, {"action": "archive", "_selected_action": [integration.pk]}, follow=True)

    integration.refresh_from_db()
    assert integration.archived
    assert "1 integration archived." in response.content.decode()

    client.post(url, {"action": "unarchive", "_selected_action": [integration.pk]})

    integration.refresh_from_db()
    assert not integration.archived


def test_filter_by_archived(client, integration):
    Integration.objects.create(name="Old Service", slug="old", archived=True)

    html = changelist(client, archived__exact="1")

    assert "Old Service" in html
    assert ">Acme<" not in html


def test_search_by_name(client, integration):
    Integration.objects.create(name="Payroll", slug="payroll")

    html = changelist(client, q="payr")

    assert "Payroll" in html
    assert ">Acme<" not in html
