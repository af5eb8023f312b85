"""A blank value that would be a whole part of a URL's path is refused, naming it, never sent as ``//``.

`/tickets/{{ ticket }}/comments` with a blank optional input went out as `/tickets//comments`: another
address, which a service may answer as something else entirely (or, for a DELETE, act on).
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.templating import BlankPathSegment, Context, render_url
from runs.models import Run, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

CONTEXT = Context({"ticket": "", "id": "42", "q": "", "n": "", "host": "", "secrets": {"TOKEN": "s3cret"}})


@pytest.mark.parametrize(
    "url, names",
    [
        ("/tickets/{{ ticket }}/comments", ["ticket"]),
        ("https://h/tickets/{{ ticket }}", ["ticket"]),  # a trailing "/": the list of tickets, not one
        ("tickets/{{ ticket }}{{ n }}/x", ["ticket", "n"]),
        ("https://{{ host }}/x", ["host"]),
        ("{{ ticket }}/comments", ["ticket"]),
    ],
)
def test_a_blank_whole_part_of_the_path_is_refused_naming_it(url, names):
    with pytest.raises(BlankPathSegment) as refused:
        render_url(url, CONTEXT)

    assert refused.value.names == names
    assert " and ".join(f"{{{{ {name} }}}}" for name in names) in str(refused.value)
    assert url in str(refused.value)


@pytest.mark.parametrize(
    "url, rendered",
    [
        ("/tickets/{{ id }}/comments", "/tickets/42/comments"),
        ("/tickets/{{ id }}?q={{ q }}", "/tickets/42?q="),  # a blank in the query changes no address
        ("/v{{ n }}/tickets", "/v/tickets"),  # part of a part: the part is not empty
        ("/tickets/{{ id }}{{ ticket }}", "/tickets/42"),
        ("/tickets/{{ id }}#{{ ticket }}", "/tickets/42#"),
    ],
)
def test_other_blanks_and_filled_parts_are_rendered(url, rendered):
    assert render_url(url, CONTEXT) == rendered


@pytest.fixture
def ticket_action(server):
    server.script("/tickets//comments", reply(json={"status": "done"}))
    server.script("/tickets/7/comments", reply(json={"status": "done"}))
    return make_action(server.base_url, method="GET", url="/tickets/{{ ticket }}/comments", inputs=["ticket"])


@pytest.mark.usefixtures("q_sync")
def test_a_run_with_the_input_blank_is_refused_at_start_and_nothing_is_sent(db, server, ticket_action):
    with pytest.raises(ValidationError) as refused:
        start_run(ticket_action, {"ticket": ""})

    assert "{{ ticket }} is blank" in " ".join(refused.value.messages)
    assert "/tickets/{{ ticket }}/comments" in " ".join(refused.value.messages)
    assert not Run.objects.exists()
    assert server.requests == []

    run = drive(start_run(ticket_action, {"ticket": "7"}))  # the same action, with a value, is sent
    assert run.status == Status.SUCCEEDED, run.reason
    assert [request.path for request in server.requests] == ["/tickets/7/comments"]


def test_run_now_in_the_admin_says_which_input_and_sends_nothing(client, admin_user, server, ticket_action):
    client.force_login(admin_user)

    response = client.post(reverse("admin:integrations_action_run", args=[ticket_action.pk]), {"ticket": ""})

    assert response.status_code == 200
    assert "{{ ticket }} is blank" in response.content.decode()
    assert not Run.objects.exists()
    assert server.requests == []


@pytest.mark.usefixtures("q_sync")
def test_a_poll_whose_path_part_is_blank_fails_the_run_naming_it_and_is_not_sent(db, server):
    server.script("/jobs", reply(json={"id": "j-1"}))
    server.script("/jobs/j-1/", reply(json={"status": "done"}))
    action = make_action(server.base_url, url="/jobs", polling_mode="poll", poll_url="/jobs/{{ job_id }}/{{ part }}",
                         poll_interval=1, inputs=["part"], mappings=[("job_id", "id")],
                         stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action, {"part": ""}))

    assert run.status == Status.FAILED
    assert "{{ part }} is blank" in run.reason, run.reason
    assert [request.path for request in server.requests] == ["/jobs"]  # the first request only
