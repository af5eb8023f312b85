"""The runs list at scale, through Django's test client: the reason column, a stable order, the live endpoint
that runs_list.js polls, and bulk Refire and Cancel with their confirmation pages.

The runs are real (started by the engine's services, driven against a scripted server on 127.0.0.1 with
django-q2 in synchronous mode) except where hundreds are needed, which are written as rows.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from runs import bulk
from runs.models import Run, Status
from runs.services import start_run
from tests.api_helpers import job_action
from tests.engine_helpers import drive, step
from tests.servers import ScriptedServer
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")

LIST = "/admin/runs/run/"
LIVE = "/admin/runs/run/live/"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer(client, viewer_user):
    client.force_login(viewer_user)
    return client


@pytest.fixture
def failing(db, server):
    return job_action(server, final="failed")


@pytest.fixture
def other_server():
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def endless(db, other_server):
    """A cancelable job on a service of its own that never ends (its polls answer "running")."""
    return job_action(other_server, final="running", cancelable=True, name="Endless job")


def listed(client, query=""):
    return [run.pk for run in client.get(LIST + query).context["cl"].result_list]


# --- the list ------------------------------------------------------------------------------------------


def test_the_list_shows_the_reason_short_with_the_whole_of_it_on_hover(staff, failing):
    run = drive(start_run(failing, {}))
    long_reason = "The service said <failed> " + "and more " * 40
    Run.objects.filter(pk=run.pk).update(reason=long_reason)

    html = staff.get(LIST).content.decode()

    assert reverse("admin:runs_run_changelist") == LIST
    assert '<th scope="col" class="column-reason_text">' in html
    cell = html.split('class="run-list-reason"')[1].split("</span>")[0]
    assert 'title="The service said &lt;failed&gt; and more' in cell
    shown = cell.split(">", 1)[1]
    assert shown.startswith("The service said &lt;failed&gt; and more") and shown.endswith("…")
    assert len(shown) < len(long_reason) // 2


def test_runs_created_at_the_same_time_are_listed_newest_id_first(staff, failing):
    runs = [start_run(failing, {}) for _ in range(4)]
    same_time = timezone.now() - timedelta(minutes=1)
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(created_at=same_time)

    assert listed(staff) == sorted((run.pk for run in runs), reverse=True)
    assert listed(staff, "?o=3") == sorted((run.pk for run in runs), reverse=True)  # sorted by action: ties by id


def test_only_active_rows_are_marked_for_following(staff, failing, endless):
    finished = drive(start_run(failing, {}))
    active = step(step(start_run(endless, {})))

    html = staff.get(LIST).content.decode()

    assert f'data-run-live="{active.pk}"' in html
    assert f'data-run-live="{finished.pk}"' not in html
    assert f'data-run-requests="{active.pk}"' in html and f'data-run-duration="{finished.pk}"' in html
    assert "runs/runs_list.js" in html


# --- the live endpoint -----------------------------------------------------------------------------------


def test_the_live_endpoint_says_status_requests_and_duration_of_the_runs_asked_for(staff, failing, endless):
    finished = drive(start_run(failing, {}))
    active = step(step(start_run(endless, {})))
    other = start_run(failing, {})

    answer = staff.get(LIVE, {"id": [active.pk, finished.pk, "abc", "99999999"]}).json()

    assert set(answer["runs"]) == {str(active.pk), str(finished.pk)}
    assert answer["runs"][str(active.pk)] == {
        "status": "polling", "label": "Polling", "css": "run-status--polling", "title": "", "active": True,
        "requests": active.attempt, "duration": answer["runs"][str(active.pk)]["duration"],
        "reason": "Polling.", "reason_short": "Polling."}
    assert answer["runs"][str(active.pk)]["duration"].endswith(("ms", "s"))
    assert answer["runs"][str(finished.pk)]["label"] == "Failed"
    assert answer["runs"][str(finished.pk)]["active"] is False
    assert answer["runs"][str(finished.pk)]["requests"] == finished.attempt == 2
    assert str(other.pk) not in answer["runs"]


def test_the_live_endpoint_answers_viewers_and_no_one_else(client, viewer_user, failing):
    run = drive(start_run(failing, {}))
    assert client.get(LIVE, {"id": run.pk}).status_code == 302  # to the login page

    nobody = User.objects.create_user("carol", password="carol-password-123", is_staff=True)
    client.force_login(nobody)
    assert client.get(LIVE, {"id": run.pk}).status_code == 403

    client.force_login(viewer_user)
    assert client.get(LIVE, {"id": run.pk}).json()["runs"][str(run.pk)]["label"] == "Failed"


# --- bulk Refire --------------------------------------------------------------------------------------


def post_action(client, action, runs, query="", **extra):
    data = {"action": action, "index": 0, "_selected_action": [run.pk for run in runs], **extra}
    return client.post(LIST + query, data)


def confirm(client, page, query=""):
    """Press "Yes" on a confirmation page: post its form as the browser would."""
    context = page.context
    data = {"action": context["action_name"], "post": "yes", "_selected_action": context["selected"]}
    if context["select_across"]:
        data["select_across"] = "1"
    return client.post(LIST + query, data, follow=True)


def test_refire_selected_first_says_what_will_happen_to_each_run_and_does_nothing(staff, failing, endless):
    failed = drive(start_run(failing, {"env": "production"}))
    refired_before = drive(start_run(failing, {}))
    earlier_refire = start_run(failing, {}, refired_from=refired_before)
    running = step(step(start_run(endless, {})))
    before = Run.objects.count()

    page = post_action(staff, "refire_selected", [failed, refired_before, running])

    assert page.status_code == 200
    assert page.templates[0].name == "admin/runs/run/bulk_confirmation.html"
    text = text_of(page)
    assert "Refire 3 runs?" in text
    assert "1 of 3 selected runs will be refired" in text
    assert f"#{failed.pk} {failing.name} Failed refired as a new run with the same variables" in text
    assert f"#{refired_before.pk} {failing.name} Failed already refired as #{earlier_refire.pk}: skipped" in text
    assert f"#{running.pk} {endless.name} Polling cannot be refired: it is polling" in text
    assert Run.objects.count() == before


def test_refire_selected_refires_with_the_same_variables_and_names_each_refusal(staff, failing, endless, admin_user):
    failed = drive(start_run(failing, {"env": "production", "note": "n-1"}))
    refired_before = drive(start_run(failing, {}))
    start_run(failing, {}, refired_from=refired_before)
    running = step(step(start_run(endless, {})))
    page = post_action(staff, "refire_selected", [failed, refired_before, running])

    done = confirm(staff, page)

    new = Run.objects.get(refired_from=failed)
    assert new.variables == {"env": "production", "note": "n-1"}
    assert new.created_by == admin_user
    assert Run.objects.filter(refired_from=refired_before).count() == 1
    assert not Run.objects.filter(refired_from=running).exists()
    text = text_of(done)
    assert f"1 run refired: #{failed.pk} as #{new.pk}." in text
    assert f"2 runs not refired: #{refired_before.pk} already refired as" in text
    assert f"#{running.pk} cannot be refired: it is polling" in text


def test_refire_selected_names_a_run_whose_variables_no_longer_fit(staff, failing):
    failed = drive(start_run(failing, {"env": "production"}))
    failing.inputs.filter(name="env").update(choices="staging")
    page = post_action(staff, "refire_selected", [failed])

    done = confirm(staff, page)

    assert not Run.objects.filter(refired_from=failed).exists()
    assert f"1 run not refired: #{failed.pk} not refired: its variables no longer fit" in text_of(done)


def test_refire_all_across_a_filter_refires_every_run_it_finds_in_chunks(staff, failing, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 7)
    failed = [drive(start_run(failing, {"note": f"n-{n}"})) for n in range(3)]
    rows = Run.objects.bulk_create(
        Run(action=failing, integration=failing.integration, variables={"env": "staging", "note": f"r-{n}"},
            status=Status.FAILED, reason="Failed.", callback_token=f"bulk-{n}") for n in range(120))
    other = drive(start_run(job_action_succeeding(failing), {}))
    query = "?" + urlencode({"status__exact": "failed"})

    # As the overview's "Refire all" posts: one id, select_across, the filter in the query.
    page = post_action(staff, "refire_selected", [failed[0]], query, select_across=1)

    text = text_of(page)
    assert "Refire 123 runs?" in text
    assert "123 runs refired as a new run with the same variables, such as" in text  # summarised past 100
    assert f"#{other.pk}" not in text
    done = confirm(staff, page, query)
    refired = set(Run.objects.filter(refired_from__isnull=False).values_list("refired_from_id", flat=True))
    assert refired == {run.pk for run in failed + rows}
    assert "123 runs refired:" in text_of(done)
    assert "and 103 more." in text_of(done)


def job_action_succeeding(action):
    from tests.engine_helpers import make_action

    return make_action(action.integration.base_url, integration=action.integration, name="Quick job", url="/jobs",
                       polling_mode="none")


# --- bulk Cancel -------------------------------------------------------------------------------------


def test_cancel_selected_asks_first_then_cancels_and_names_what_it_could_not(staff, endless, failing, other_server):
    active = [step(step(start_run(endless, {}))) for _ in range(2)]
    stubborn = step(start_run(job_action(other_server, final="running", cancelable=False, name="Stubborn job"), {}))
    finished = drive(start_run(failing, {}))
    selected = [*active, stubborn, finished]

    page = post_action(staff, "cancel_selected", selected)

    text = text_of(page)
    assert "Cancel 4 runs?" in text and "2 of 4 selected runs will be cancelled" in text
    assert f"#{stubborn.pk} Stubborn job Polling cannot be cancelled: Stubborn job is not cancelable" in text
    assert f"#{finished.pk} {failing.name} Failed cannot be cancelled: it is already failed" in text
    assert Run.objects.filter(status=Status.CANCELLED).count() == 0

    done = confirm(staff, page)

    assert {run.pk for run in Run.objects.filter(status=Status.CANCELLED)} == {run.pk for run in active}
    assert Run.objects.get(pk=active[0].pk).reason == "Cancelled by alice."
    text = text_of(done)
    assert "2 runs cancelled." in text
    assert f"2 runs not cancelled: #{stubborn.pk} cannot be cancelled: Stubborn job is not cancelable" in text


# --- permissions -------------------------------------------------------------------------------------


def test_a_viewer_is_offered_no_bulk_action_and_cannot_post_one(viewer, failing, endless):
    failed = drive(start_run(failing, {}))
    active = step(step(start_run(endless, {})))

    html = viewer.get(LIST).content.decode()
    assert "refire_selected" not in html and "cancel_selected" not in html
    assert 'name="_selected_action"' not in html

    for action in ("refire_selected", "cancel_selected"):
        for extra in ({}, {"post": "yes"}):
            response = post_action(viewer, action, [failed, active], **extra)
            assert response.status_code in (200, 302)
            assert b"bulk_confirmation" not in response.content
    assert not Run.objects.filter(refired_from=failed).exists()
    assert Run.objects.get(pk=active.pk).status == Status.POLLING


def test_an_admin_is_offered_both_bulk_actions(staff, failing):
    drive(start_run(failing, {}))
    html = staff.get(LIST).content.decode()
    assert '<option value="refire_selected">Refire selected runs</option>' in html
    assert '<option value="cancel_selected">Cancel selected runs</option>' in html
