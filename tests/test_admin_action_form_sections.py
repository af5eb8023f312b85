"""The action page in sections (Request, Polling, Conditions and mappings, Settings), as Cutover's editor groups
an action; the placeholders listed once; a section with an error is the one that opens.

The tabs themselves (form-sections.js) are tried in Chromium: tests/test_admin_action_form_sections_browser.py.
"""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from integrations.admin import PLACEHOLDERS_POINTER
from integrations.models import ACTION_PLACEHOLDERS, Action, Secret
from tests.admin_helpers import stop_condition_rows

SECTIONS = ["request", "polling", "conditions", "settings"]
TITLES = ["Request", "Polling", "Conditions and mappings", "Settings"]


class SectionMap(HTMLParser):
    """Which section (data-section) each element with an id is in, the tabs, and the open section."""

    def __init__(self, html):
        super().__init__()
        self.stack = []  # the open <section> tags: their data-section, or None
        self.section_of = {}
        self.tabs = []
        self.tab_text = None
        self.sections = []
        self.opened = []
        self.with_errors = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            slug = attrs.get("data-section")
            self.stack.append(slug)
            if slug:
                self.sections.append(slug)
                if "data-open" in attrs:
                    self.opened.append(slug)
                if "has-errors" in attrs.get("class", "").split():
                    self.with_errors.append(slug)
        if "data-section-tab" in attrs:
            self.tabs.append([attrs["data-section-tab"], ""])
            self.tab_text = self.tabs[-1]
        if attrs.get("id"):
            current = [slug for slug in self.stack if slug]
            self.section_of[attrs["id"]] = current[-1] if current else None

    def handle_endtag(self, tag):
        if tag == "section":
            self.stack.pop()
        if tag == "button":
            self.tab_text = None

    def handle_data(self, data):
        if self.tab_text is not None:
            self.tab_text[1] += data


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def page_of(client, action):
    return client.get(reverse("admin:integrations_action_change", args=[action.pk]))


def test_the_page_has_four_sections_with_a_tab_each_and_opens_the_first(staff, action):
    found = SectionMap(page_of(staff, action).content.decode())

    assert found.sections == SECTIONS
    assert found.tabs == [[slug, title] for slug, title in zip(SECTIONS, TITLES)]
    assert found.opened == ["request"]
    assert found.with_errors == []


@pytest.mark.parametrize(
    "element, section",
    [
        ("id_integration", "request"),
        ("id_name", "request"),
        ("id_method", "request"),
        ("id_url", "request"),
        ("id_body", "request"),
        ("inputs-group", "request"),
        ("id_polling_mode", "polling"),
        ("id_poll_url", "polling"),
        ("id_poll_interval", "polling"),
        ("id_on_server_error", "polling"),
        ("id_accepted_statuses", "conditions"),
        ("continue_conditions-group", "conditions"),
        ("stop_conditions-group", "conditions"),
        ("mappings-group", "conditions"),
        ("id_cancelable", "settings"),
        ("id_next_action", "settings"),
        ("id_auto_start", "settings"),
    ],
)
def test_each_fieldset_and_inline_is_in_its_section(staff, action, element, section):
    assert SectionMap(page_of(staff, action).content.decode()).section_of[element] == section


def test_every_field_of_the_form_is_in_a_section(staff, action):
    response = page_of(staff, action)
    found = SectionMap(response.content.decode())

    form = response.context["adminform"].form
    ids = [form[name].id_for_label or f"{form[name].auto_id}_0" for name in form.fields if not form[name].is_hidden]
    assert ids and all(found.section_of.get(element) in SECTIONS for element in ids), [
        element for element in ids if found.section_of.get(element) not in SECTIONS
    ]


def test_the_placeholders_are_listed_once_not_in_each_help_text(staff, action):
    action.inputs.create(name="ticket_title", position=1)
    Secret.objects.create(integration=action.integration, name="API_TOKEN", value="s3cret-value")
    action.mappings.create(field="ticket_id", path="$.id", position=1)

    html = page_of(staff, action).content.decode()

    assert ACTION_PLACEHOLDERS not in html
    assert html.count("{{ action.slug }}") == 1  # the run facts, in the one panel
    assert html.count('<details class="placeholder-panel"') == 1
    panel = html.split('<details class="placeholder-panel"')[1].split("</details>")[0]
    for name in ["{{ ticket_title }}", "{{ ticket_id }}", "{{ secrets.API_TOKEN }}", "{{ run.callback_url }}"]:
        assert name in panel
    assert "s3cret-value" not in html
    assert html.count(PLACEHOLDERS_POINTER) >= 10  # url, headers, params, body, polling ones, cancel webhook, rows


def test_the_stop_conditions_say_store_what_it_finds_as_not_target_field(staff, action):
    html = page_of(staff, action).content.decode()

    assert "Store what it finds as" in html
    assert "Target field" not in html


def test_an_error_opens_its_section_and_its_summary_link_points_into_it(post_action):
    response = post_action(polling_mode="poll", poll_interval="0.5")

    html = response.content.decode()
    found = SectionMap(html)
    assert response.status_code == 200
    assert found.opened == ["polling"]
    assert found.with_errors == ["polling"]
    assert '<a href="#id_poll_interval">' in html
    assert found.section_of["id_poll_interval"] == "polling"
    assert "Polling<span class=\"form-section-error\"> (to correct)</span>" in html


def test_errors_in_two_sections_open_the_first_and_mark_both(post_action):
    response = post_action(polling_mode="poll", poll_interval="0.5", **stop_condition_rows({"path": "$.data["}))

    found = SectionMap(response.content.decode())
    assert found.opened == ["polling"]
    assert found.with_errors == ["polling", "conditions"]
    assert found.section_of["id_stop_conditions-0-path"] == "conditions"


def test_an_error_in_a_row_opens_the_conditions(post_action):
    response = post_action(**stop_condition_rows({"path": "$.data["}))

    found = SectionMap(response.content.decode())
    assert found.opened == ["conditions"]
    assert found.with_errors == ["conditions"]


def test_those_who_may_only_view_get_the_sections_too(client, viewer_user, action):
    client.force_login(viewer_user)

    found = SectionMap(page_of(client, action).content.decode())

    assert found.sections == SECTIONS
    assert found.opened == ["request"]


def test_a_new_action_s_page_has_the_sections(staff, integration):
    response = staff.get(reverse("admin:integrations_action_add"))

    found = SectionMap(response.content.decode())
    assert found.sections == SECTIONS
    assert found.section_of["inputs-group"] == "request"
    assert not Action.objects.exists()
