"""A page shown again with errors lists them all at its top, each a link to the field or row it is on."""

import re

import pytest
from django.urls import reverse

from tests.admin_helpers import stop_condition_rows


@pytest.fixture
def client(client, admin_user):
    client.force_login(admin_user)
    return client


def summary(response):
    html = response.content.decode()
    [nav] = re.findall(r'<nav class="error-summary".*?</nav>', html, re.DOTALL)
    return [
        (link, " ".join(text.split()))
        for link, text in re.findall(r'<li><a href="([^"]+)">(.*?)</li>', nav, re.DOTALL)
    ]


def test_field_and_row_errors_link_to_their_inputs(post_action):
    response = post_action(
        headers='{"Accept": }', polling_mode="poll", poll_interval="0.5",
        **stop_condition_rows({"path": "status"}, {"path": "$.data["}),
    )

    entries = summary(response)
    assert [link for link, _ in entries] == ["#id_headers", "#id_poll_interval", "#id_stop_conditions-1-path"]
    assert entries[0][1].startswith("Request › Headers</a>: Invalid JSON at line 1, column 12")
    assert entries[1][1] == "Polling › Interval</a>: The interval must be at least 1 second, not 0.5."
    assert entries[2][1].startswith("Stop condition 2 › Path</a>: Invalid JSONPath")
    html = response.content.decode()
    for link, _ in entries:
        assert f'id="{link[1:]}"' in html  # each link has its target on the page


def test_an_inline_tables_own_error_links_to_the_table(post_action):
    response = post_action(url="/tickets/{{ ticket }}")

    links = [link for link, _ in summary(response)]
    assert links == ["#id_url", "#inputs-group"]
    assert 'id="inputs-group"' in response.content.decode()


def test_the_integration_page_has_one_too(client, integration, change_form_data):
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    response = client.post(url, change_form_data(client.get(url), auth_type="basic"))

    assert summary(response) == [
        ("#id_auth_username", "Authentication › Username</a>: Required for Basic (username and password) "
                              "authentication (username)."),
        ("#id_auth_secret", "Authentication › Password, token or key</a>: Required for Basic (username and "
                            "password) authentication (password, token or key)."),
    ]


def test_an_add_page_lists_a_missing_field(client):
    response = client.post(reverse("admin:integrations_action_add"), {"name": "", "url": ""})

    links = [link for link, _ in summary(response)]
    assert "#id_integration" in links and "#id_name" in links and "#id_url" in links


def test_a_page_without_errors_has_no_summary(client, action):
    html = client.get(reverse("admin:integrations_action_change", args=[action.pk])).content.decode()

    assert "error-summary" not in html
