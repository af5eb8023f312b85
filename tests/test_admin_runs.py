"""Runs in the admin, through Django's test client: Run now, the runs list, a run's page, Refire and Cancel.

The runs are real: started by the engine's services and driven against a
scripted server on 127.0.0.1 (django-q2 in synchronous mode).
"""

import re
from html import unescape

import pytest
from django.urls import reverse

from integrations.models import Integration, Secret
from runs.models import Exchange, Run, Status
from runs.services import start_run
from tests.api_helpers import job_action
from tests.engine_helpers import drive, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def run_page(run):
    return reverse("admin:runs_run_change", args=[run.pk])


def text_of(response):
    """The page's text without tags and with runs of whitespace made one space."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def job(db, server):
    return job_action(server)


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer(client, viewer_user):
    client.force_login(viewer_user)
    return client


# --- Run now --------------------------------------------------------------------------------------


def test_run_now_shows_a_form_built_from_the_declared_inputs(staff, job):
    job.inputs.filter(name="note").update(label="A note for the job")

    response = staff.get(reverse("admin:integrations_action_run", args=[job.pk]))

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.fields) == ["env", "note", "rehearsal"]
    assert [value for value, _ in form.fields["env"].choices] == ["", "staging", "production"]
    assert form.fields["env"].initial == "staging"
    assert form.fields["note"].label == "A note for the job"
    assert 'name="rehearsal"' in response.content.decode()


def test_run_now_starts_a_run_and_lands_on_its_page(staff, job, admin_user):
    response = staff.post(reverse("admin:integrations_action_run", args=[job.pk]),
                          {"env": "production", "note": "from the admin"})

    run = Run.objects.get()
    assert response.status_code == 302
    assert response.url == run_page(run)
    assert run.variables == {"env": "production", "note": "from the admin"}
    assert run.created_by == admin_user
    assert run.rehearsal is False
    page = staff.get(response.url)
    assert f"Run #{run.pk} of {job.name} started." in text_of(page)


def test_run_now_puts_bad_variables_on_their_fields_and_starts_nothing(staff, job):
    job.inputs.filter(name="note").update(required=True)

    response = staff.post(reverse("admin:integrations_action_run", args=[job.pk]), {"env": "moon", "note": ""})

    assert response.status_code == 200
    form = response.context["form"]
    assert "Select a valid choice. moon is not one of the available choices." in form.errors["env"]
    assert Run.objects.count() == 0


def test_run_now_names_a_missing_required_input_on_its_field(staff, job):
    job.inputs.filter(name="note").update(required=True)

    response = staff.post(reverse("admin:integrations_action_run", args=[job.pk]), {"env": "staging", "note": ""})

    assert response.context["form"].errors["note"] == ["note is required."]
    assert "Please correct the error below." in text_of(response)
    assert Run.objects.count() == 0


def test_run_now_as_a_rehearsal_sends_nothing(staff, job, server):
    staff.post(reverse("admin:integrations_action_run", args=[job.pk]), {"env": "staging", "rehearsal": "on"})

    run = drive(Run.objects.get())
    assert run.rehearsal is True
    assert server.requests == []


def test_run_now_of_an_action_without_inputs_takes_json_variables(staff, server, db):
    from tests.engine_helpers import make_action

    server.script("/ping", reply(json={"ok": True}))
    action = make_action(server.base_url, url="/ping", method="GET")

    bad = staff.post(reverse("admin:integrations_action_run", args=[action.pk]), {"variables": "[1, 2"})
    assert "variables" in bad.context["form"].errors
    staff.post(reverse("admin:integrations_action_run", args=[action.pk]), {"variables": '{"anything": 1}'})
    assert Run.objects.get().variables == {"anything": 1}


def test_run_now_of_an_archived_integration_says_why(staff, job):
    job.integration.archived = True
    job.integration.save()

    response = staff.post(reverse("admin:integrations_action_run", args=[job.pk]), {"env": "staging"})

    assert "is archived: its actions cannot run" in text_of(response)
    assert Run.objects.count() == 0


def test_run_now_is_on_the_action_page_and_in_the_action_list(staff, job):
    page = staff.get(reverse("admin:integrations_action_change", args=[job.pk])).content.decode()
    listing = staff.get(reverse("admin:integrations_action_changelist")).content.decode()

    run_now = reverse("admin:integrations_action_run", args=[job.pk])
    assert f'href="{run_now}"' in page
    assert f'href="{run_now}"' in listing
    assert f"?action__id__exact={job.pk}" in page  # "Runs of this action"


def test_the_integration_page_links_to_its_runs(staff, job):
    page = staff.get(reverse("admin:integrations_integration_change", args=[job.integration_id])).content.decode()

    assert f'href="{reverse("admin:runs_run_changelist")}?integration__id__exact={job.integration_id}"' in page


def test_a_viewer_gets_no_run_now(viewer, job):
    page = viewer.get(reverse("admin:integrations_action_change", args=[job.pk])).content.decode()
    listing = viewer.get(reverse("admin:integrations_action_changelist")).content.decode()

    run_now = reverse("admin:integrations_action_run", args=[job.pk])
    assert run_now not in page
    assert run_now not in listing
    assert viewer.get(run_now).status_code == 403
    assert viewer.post(run_now, {"env": "staging"}).status_code == 403
    assert Run.objects.count() == 0


# --- the runs list ------------------------------------------------------------------------------------


def test_the_runs_list_shows_status_in_colour_and_words_newest_first(staff, job, server):
    server.script("/failing", reply(json={"status": "failed"}))
    failed = drive(start_run(job_action_failing(job), {}))
    succeeded = drive(start_run(job, {}))

    response = staff.get(reverse("admin:runs_run_changelist"))

    html = response.content.decode()
    assert '<span class="run-status run-status--succeeded">Succeeded</span>' in html
    assert '<span class="run-status run-status--failed">Failed</span>' in html
    assert html.index(f">#{succeeded.pk}<") < html.index(f">#{failed.pk}<")
    for header in ("Run", "Status", "Action", "Integration", "Requests", "Duration", "Created", "Refired"):
        assert f">{header}<" in html or f">{header}</a>" in html, header


def job_action_failing(job):
    """A second action on the same service whose job ends "failed"."""
    from tests.engine_helpers import make_action

    return make_action(job.integration.base_url, integration=job.integration, name="Failing job",
                       polling_mode="poll", poll_url="/failing", mappings=[], stop=[
                           ("status", "equals", "failed", "failure")])


def test_the_runs_list_filters_by_status_integration_action_and_date(staff, job, server):
    server.script("/failing", reply(json={"status": "failed"}))
    failing = job_action_failing(job)
    failed = drive(start_run(failing, {}))
    succeeded = drive(start_run(job, {}))
    url = reverse("admin:runs_run_changelist")

    def listed(query):
        return {run.pk for run in staff.get(url + query).context["cl"].result_list}

    assert listed("?status__exact=failed") == {failed.pk}
    assert listed(f"?action__id__exact={job.pk}") == {succeeded.pk}
    assert listed(f"?integration__id__exact={job.integration_id}") == {failed.pk, succeeded.pk}
    changelist = staff.get(url).context["cl"]
    [dates] = [spec for spec in changelist.filter_specs if spec.title == "created at"]
    assert [choice["display"] for choice in dates.choices(changelist)][:3] == ["Any date", "Today", "Past 7 days"]
    assert listed(f"?created_at__gte={failed.created_at.date()}") == {failed.pk, succeeded.pk}


def test_the_runs_list_finds_a_run_by_number_and_by_a_variable_value(staff, job):
    first = start_run(job, {"note": "invoice-7781"})
    second = start_run(job, {"note": "other"})
    url = reverse("admin:runs_run_changelist")

    assert [run.pk for run in staff.get(url, {"q": "invoice-7781"}).context["cl"].result_list] == [first.pk]
    assert [run.pk for run in staff.get(url, {"q": f"#{second.pk}"}).context["cl"].result_list] == [second.pk]
    assert list(staff.get(url, {"q": "nothing-like-this"}).context["cl"].result_list) == []


def test_the_runs_list_links_refired_runs_both_ways(staff, server, db):
    failed = drive(start_run(job_action(server, final="failed"), {}))
    refired = start_run(failed.action, {}, refired_from=failed)

    html = staff.get(reverse("admin:runs_run_changelist")).content.decode()

    assert f'from <a href="{run_page(failed)}">#{failed.pk}</a>' in html
    assert f'as <a href="{run_page(refired)}">#{refired.pk}</a>' in html


def test_the_runs_list_reads_a_page_in_a_fixed_number_of_queries(staff, job, django_assert_max_num_queries):
    for _ in range(3):
        drive(start_run(job, {}))
    url = reverse("admin:runs_run_changelist")
    staff.get(url)
    with django_assert_max_num_queries(13) as few:  # 13: one reads the cause filter's causes
        staff.get(url)
    for _ in range(20):
        drive(start_run(job, {}))
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff.get(url)


def test_a_viewer_sees_runs_but_cannot_add_change_or_delete(viewer, job):
    run = drive(start_run(job, {}))

    assert viewer.get(reverse("admin:runs_run_changelist")).status_code == 200
    assert viewer.get(run_page(run)).status_code == 200
    assert viewer.get(reverse("admin:runs_run_add")).status_code == 403
    assert viewer.get(reverse("admin:runs_run_delete", args=[run.pk])).status_code == 403


# --- a run's page ------------------------------------------------------------------------------------


def test_the_run_page_says_status_reason_variables_fields_and_timing(staff, job):
    run = drive(start_run(job, {"env": "production", "note": "n-1"}))

    text = text_of(staff.get(run_page(run)))

    assert "Succeeded" in text
    assert run.reason in text
    assert '"env": "production"' in text
    assert '"job_id": "j-1"' in text
    assert "Requests 2 requests sent" in text
    assert "Took" in text


def test_the_actions_log_lists_each_exchange_with_what_was_decided(staff, job):
    run = drive(start_run(job, {}))

    response = staff.get(run_page(run))

    exchanges = list(response.context["log"].object_list)
    assert [exchange.kind for exchange in exchanges] == ["poll", "request"]  # newest first
    text = text_of(response)
    assert "Request POST" in text and "Poll GET" in text
    assert exchanges[0].decision in text
    for exchange in exchanges:
        assert reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk]) in response.content.decode()


def test_identical_answers_are_one_row_saying_how_many(staff, server, db):
    action = job_action(server, final="running")
    run = start_run(action, {})
    for _ in range(6):
        run = step(run)

    response = staff.get(run_page(run))

    [poll] = [exchange for exchange in response.context["log"].object_list if exchange.kind == "poll"]
    assert poll.repeat_count == 5
    text = text_of(response)
    assert "same answer × 5" in text
    assert f"attempts {poll.attempt} to {poll.last_attempt}" in text


def test_the_actions_log_is_paginated(staff, job):
    run = start_run(job, {})
    Exchange.objects.bulk_create(
        Exchange(run=run, kind="poll", attempt=number, method="GET", url=f"/jobs/{number}", status_code=200)
        for number in range(1, 121)
    )

    first = staff.get(run_page(run))
    last = staff.get(run_page(run), {"log": 3})

    assert [exchange.attempt for exchange in first.context["log"].object_list][:2] == [120, 119]
    assert len(first.context["log"].object_list) == 50
    assert [exchange.attempt for exchange in last.context["log"].object_list] == list(range(20, 0, -1))
    assert '?log=3#actions-log' in first.content.decode()


def test_the_run_page_reads_in_a_fixed_number_of_queries(staff, server, db, django_assert_max_num_queries):
    action = job_action(server, final="running")
    run = start_run(action, {})
    run = step(run)
    staff.get(run_page(run))
    with django_assert_max_num_queries(20) as few:
        staff.get(run_page(run))
    Exchange.objects.bulk_create(Exchange(run=run, kind="poll", attempt=n, status_code=200) for n in range(60))
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff.get(run_page(run))


def test_an_active_run_page_asks_to_be_followed_and_a_finished_one_does_not(staff, server, db):
    action = job_action(server, final="running")
    run = step(start_run(action, {}))
    assert 'data-active="true"' in staff.get(run_page(run)).content.decode()

    server.script("/jobs/j-1", reply(json={"id": "j-1", "status": "done"}))
    run = drive(run)
    assert 'data-active="false"' in staff.get(run_page(run)).content.decode()


def test_an_unknown_run_is_a_404(staff, db):
    assert staff.get(reverse("admin:runs_run_change", args=[999])).status_code == 404
    assert staff.get("/admin/runs/run/abc/change/").status_code in (302, 404)


# --- Refire and Cancel --------------------------------------------------------------------------------


@pytest.fixture
def failed_run(db, server):
    run = drive(start_run(job_action(server, final="failed"), {"env": "production", "note": "first"}))
    assert run.status == Status.FAILED
    return run


def test_refire_offers_the_run_variables_to_edit_first(staff, failed_run):
    response = staff.get(reverse("admin:runs_run_refire", args=[failed_run.pk]))

    form = response.context["form"]
    assert form.fields["env"].initial == "production"
    assert form.fields["note"].initial == "first"
    assert "rehearsal" not in form.fields


def test_refire_with_an_edited_variable_starts_a_linked_run(staff, failed_run, admin_user):
    response = staff.post(reverse("admin:runs_run_refire", args=[failed_run.pk]), {"env": "staging",
                                                                                  "note": "second"})

    new = Run.objects.exclude(pk=failed_run.pk).get()
    assert response.status_code == 302 and response.url == run_page(new)
    assert new.refired_from == failed_run
    assert new.variables == {"env": "staging", "note": "second"}
    assert new.created_by == admin_user
    text = text_of(staff.get(response.url))
    assert f"Run #{failed_run.pk} was refired as run #{new.pk}." in text
    assert f"Refired from run #{failed_run.pk}" in text
    assert f"Refired as run #{new.pk}" in text_of(staff.get(run_page(failed_run)))


def test_refire_keeps_a_variable_type_left_as_it_was(staff, server, db):
    run = drive(start_run(job_action(server, final="failed"), {"env": "production", "note": 7}))

    staff.post(reverse("admin:runs_run_refire", args=[run.pk]), {"env": "production", "note": "7"})

    assert Run.objects.exclude(pk=run.pk).get().variables == {"env": "production", "note": 7}


def test_refire_with_bad_variables_shows_the_fault_and_starts_nothing(staff, failed_run):
    response = staff.post(reverse("admin:runs_run_refire", args=[failed_run.pk]), {"env": "moon"})

    assert "env" in response.context["form"].errors
    assert Run.objects.count() == 1


def test_a_run_that_did_not_fail_cannot_be_refired(staff, job):
    run = drive(start_run(job, {}))

    response = staff.post(reverse("admin:runs_run_refire", args=[run.pk]), {}, follow=True)

    assert "cannot be refired: only failed, timed-out or cancelled runs can; it is succeeded." in text_of(response)
    assert Run.objects.count() == 1
    assert reverse("admin:runs_run_refire", args=[run.pk]) not in response.content.decode()


def test_cancel_stops_an_active_run_and_says_so(staff, server, db, admin_user):
    action = job_action(server, final="running", cancelable=True)
    run = step(step(start_run(action, {})))
    page = staff.get(run_page(run)).content.decode()
    assert reverse("admin:runs_run_cancel", args=[run.pk]) in page

    response = staff.post(reverse("admin:runs_run_cancel", args=[run.pk]), follow=True)

    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.reason == "Cancelled by alice."
    assert f"Run #{run.pk} was cancelled." in text_of(response)
    assert reverse("admin:runs_run_refire", args=[run.pk]) in response.content.decode()


def test_cancel_is_post_only_and_checks_csrf(client, admin_user, server, db):
    action = job_action(server, final="running", cancelable=True)
    run = step(start_run(action, {}))
    client.force_login(admin_user)
    cancel = reverse("admin:runs_run_cancel", args=[run.pk])

    assert client.get(cancel).status_code == 405
    client.handler.enforce_csrf_checks = True
    assert client.post(cancel).status_code == 403
    run.refresh_from_db()
    assert run.status != Status.CANCELLED


def test_a_run_of_an_action_that_is_not_cancelable_offers_no_cancel(staff, server, db):
    action = job_action(server, final="running", cancelable=False)
    run = step(start_run(action, {}))

    assert reverse("admin:runs_run_cancel", args=[run.pk]) not in staff.get(run_page(run)).content.decode()
    response = staff.post(reverse("admin:runs_run_cancel", args=[run.pk]), follow=True)
    assert "Not cancelled: Runs of Job cannot be cancelled (the action is not cancelable)." in text_of(response)


def test_a_viewer_gets_no_refire_or_cancel(viewer, server, db):
    failed = drive(start_run(job_action(server, final="failed", cancelable=True), {}))
    active = step(start_run(failed.action, {}))
    server.script("/jobs/j-1", reply(json={"id": "j-1", "status": "running"}))

    for run, url in ((failed, "admin:runs_run_refire"), (active, "admin:runs_run_cancel")):
        page = viewer.get(run_page(run)).content.decode()
        assert reverse(url, args=[run.pk]) not in page
        assert viewer.post(reverse(url, args=[run.pk])).status_code == 403
    assert Run.objects.count() == 2
    active.refresh_from_db()
    assert active.status in {Status.RUNNING, Status.POLLING, Status.PENDING}


def test_no_secret_reaches_a_run_page(staff, server, db):
    integration = Integration.objects.create(name="Secretive", slug="secretive", base_url=server.base_url)
    Secret.objects.create(integration=integration, name="TOKEN", value="PLAINTEXT-token-9f1c")
    action = job_action(server, final="failed", integration=integration,
                        headers={"Authorization": "Bearer {{ secrets.TOKEN }}"})
    run = drive(start_run(action, {}))
    assert server.requests[0].headers["Authorization"] == "Bearer PLAINTEXT-token-9f1c"

    pages = [staff.get(run_page(run))] + [
        staff.get(reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk])) for exchange in run.exchanges.all()
    ]

    for page in pages:
        assert "PLAINTEXT-token-9f1c" not in page.content.decode()
    assert "Bearer ***" in pages[1].content.decode()
