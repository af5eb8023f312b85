"""Chains in the admin: a run's page shows its chain; Start, Confirm success and Reject, for those who may."""

import pytest
from django.urls import reverse

from runs.models import Run, Status
from runs.services import refire, start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer(client, viewer_user):
    client.force_login(viewer_user)
    return client


def run_page(run):
    return reverse("admin:runs_run_change", args=[run.pk])


def two_steps(server, **second):
    server.script("/orders", reply(201, json={"id": "o-7"}))
    server.script("/orders/o-7/pay", reply(200, json={"paid": True}))
    first = make_action(server.base_url, name="Create", url="/orders", mappings=[("the_id", "id")])
    make_action(server.base_url, integration=first.integration, name="Pay", url="/orders/{{ the_id }}/pay",
                after=first, **second)
    return first


def next_of(run):
    return Run.objects.get(previous_run=run, refired_from__isnull=True)


def test_the_run_page_shows_the_chain_with_each_steps_status_and_link(staff, db, server):
    one = drive(start_run(two_steps(server, auto_start=False)))
    two = next_of(one)

    response = staff.get(run_page(one))

    assert response.status_code == 200
    assert [step.run for step in response.context["chain"]] == [one, two]
    text = text_of(response)
    assert "Chain · 2 steps Waiting for a person" in text
    assert f"Create Succeeded run #{one.pk} (this run)" in text
    assert f"Pay Waiting to start run #{two.pk}" in text
    assert f'href="{run_page(two)}"' in response.content.decode()


def test_a_lone_run_page_shows_no_chain(staff, db, server):
    server.script("/jobs", reply(200))
    run = drive(start_run(make_action(server.base_url)))

    response = staff.get(run_page(run))

    assert "chain" not in response.context
    assert 'id="run-chain"' not in response.content.decode()


def test_start_starts_a_step_that_waits_for_it(staff, db, server):
    two = next_of(drive(start_run(two_steps(server, auto_start=False))))
    page = staff.get(run_page(two)).content.decode()
    assert reverse("admin:runs_run_start", args=[two.pk]) in page
    assert 'data-active="false"' in page

    response = staff.post(reverse("admin:runs_run_start", args=[two.pk]), follow=True)

    assert f"Run #{two.pk} was started." in text_of(response)
    two.refresh_from_db()
    assert two.status == Status.PENDING and two.reason == "Started by alice."
    assert drive(two).status == Status.SUCCEEDED


def test_start_needs_post(staff, db, server):
    two = next_of(drive(start_run(two_steps(server, auto_start=False))))

    assert staff.get(reverse("admin:runs_run_start", args=[two.pk])).status_code == 405


def test_starting_a_run_that_does_not_wait_says_why(staff, db, server):
    one = drive(start_run(two_steps(server)))

    response = staff.post(reverse("admin:runs_run_start", args=[one.pk]), follow=True)

    assert "Not started: The run does not wait for a start: it is succeeded." in text_of(response)


def test_confirm_success_ends_the_run_succeeded_and_the_chain_goes_on(staff, db, server):
    first = two_steps(server)
    first.finish_on_success = False
    first.save()
    one = drive(start_run(first))
    page = staff.get(run_page(one))
    assert "Waiting for confirmation" in text_of(page)
    assert "Confirm success" in text_of(page)

    response = staff.post(reverse("admin:runs_run_confirm", args=[one.pk]), follow=True)

    assert f"Run #{one.pk} was confirmed as succeeded." in text_of(response)
    one.refresh_from_db()
    assert one.status == Status.SUCCEEDED
    assert drive(next_of(one)).status == Status.SUCCEEDED


def test_reject_fails_the_run_with_the_reason_given(staff, db, server):
    first = two_steps(server)
    first.finish_on_success = False
    first.save()
    one = drive(start_run(first))

    staff.post(reverse("admin:runs_run_reject", args=[one.pk]), {"reason": "wrong amount"})

    one.refresh_from_db()
    assert one.status == Status.FAILED
    assert one.reason.startswith("Success rejected by alice: wrong amount.")
    assert not Run.objects.filter(previous_run=one).exists()


def test_a_viewer_sees_the_chain_but_cannot_start_confirm_or_reject(viewer, db, server):
    first = two_steps(server, auto_start=False)
    first.finish_on_success = False
    first.save()
    one = drive(start_run(first))

    page = viewer.get(run_page(one)).content.decode()

    assert "Confirm success" not in page and reverse("admin:runs_run_confirm", args=[one.pk]) not in page
    for name in ("runs_run_confirm", "runs_run_reject", "runs_run_start"):
        assert viewer.post(reverse(f"admin:{name}", args=[one.pk])).status_code == 403
    one.refresh_from_db()
    assert one.status == Status.WAITING_CONFIRMATION


def test_the_chain_shows_the_latest_attempt_of_a_refired_step(staff, db, server):
    first = two_steps(server)
    server.script("/orders/o-7/pay", [reply(500), reply(200, json={"paid": True})])
    one = drive(start_run(first))
    two = drive(next_of(one))
    again = drive(refire(two))

    response = staff.get(run_page(one))

    assert [step.run for step in response.context["chain"]] == [one, again]
    assert "attempt 2" in text_of(response)


def test_the_runs_list_filters_by_the_new_statuses(staff, db, server):
    two = next_of(drive(start_run(two_steps(server, auto_start=False))))

    response = staff.get(reverse("admin:runs_run_changelist"), {"status__exact": "waiting_start"})

    assert [run.pk for run in response.context["cl"].result_list] == [two.pk]
    assert "Waiting for confirmation" in text_of(response)


def test_the_chain_counts_every_step_it_defines_not_only_those_that_ran(staff, db, server):
    first = two_steps(server, auto_start=False)
    make_action(server.base_url, integration=first.integration, name="Ship", url="/orders/{{ the_id }}/ship",
                after=first.next_action)
    one = drive(start_run(first))
    two = next_of(one)

    response = staff.get(run_page(one))

    assert response.context["chain_length"] == 3
    text = text_of(response)
    assert "Chain · 3 steps Waiting for a person" in text
    assert f"Pay Waiting to start run #{two.pk}" in text
    assert "Ship not started yet" in text


def test_a_rejected_run_says_its_success_was_overruled_not_success(staff, db, server):
    server.script("/orders", reply(201, json={"id": "o-7"}))
    first = make_action(server.base_url, name="Create", url="/orders", stop=[("id", "equals", "o-7", "success")],
                        finish_on_success=False)
    make_action(server.base_url, integration=first.integration, name="Pay", url="/orders/o-7/pay", after=first)
    one = drive(start_run(first))
    assert one.reason.startswith("Stop condition matched: ") and one.status == Status.WAITING_CONFIRMATION
    page = staff.get(run_page(one)).content.decode()
    assert f'data-confirm="Reject the success of run #{one.pk}? It fails, and the chain does not go on."' in page

    response = staff.post(reverse("admin:runs_run_reject", args=[one.pk]), {"reason": "wrong amount"}, follow=True)

    one.refresh_from_db()
    assert one.reason.startswith("Success rejected by alice: wrong amount. Overruled: the conditions said success (")
    assert not one.reason.endswith(": success.")
    assert one.reason in text_of(response)
