"""The admin shows stop conditions by group, makes a new row a new group, and refuses a group with two outcomes."""

from django.urls import reverse

from integrations.models import StopCondition
from tests.admin_helpers import inline_formset, stop_condition_errors, stop_condition_rows


def test_rows_with_one_group_number_are_saved_as_one_group(post_action, action):
    response = post_action(**stop_condition_rows(
        {"path": "state", "value": "closed", "group": "1"},
        {"path": "number", "value": "8", "group": "1"},
        {"path": "state", "value": "failed", "outcome": "failure", "group": "2"},
    ))

    assert response.status_code == 302
    assert [(row.group, row.path) for row in action.stop_conditions.all()] == [
        (1, "state"), (1, "number"), (2, "state")
    ]


def test_a_new_row_left_blank_becomes_a_new_group_of_its_own(post_action, action):
    StopCondition.objects.create(action=action, path="status", value="done", group=3)

    new_rows = {"position": "0", "path": "status", "operator": "equals", "outcome": "failure", "group": ""}
    response = post_action(**{
        "stop_conditions-TOTAL_FORMS": "3",
        **{f"stop_conditions-1-{name}": value for name, value in {**new_rows, "value": "failed"}.items()},
        **{f"stop_conditions-2-{name}": value for name, value in {**new_rows, "value": "cancelled"}.items()},
    })

    assert response.status_code == 302
    assert [(row.group, row.value) for row in action.stop_conditions.all()] == [
        (3, "done"), (4, "failed"), (5, "cancelled")
    ]


def test_a_group_whose_rows_have_different_outcomes_is_refused_on_each_row(post_action, action):
    response = post_action(**stop_condition_rows(
        {"path": "state", "value": "closed", "group": "1"},
        {"path": "number", "value": "8", "group": "1", "outcome": "failure"},
        {"path": "state", "value": "open", "group": "2"},
    ))

    assert response.status_code == 200
    for index in (0, 1):
        [message] = stop_condition_errors(response, index, "outcome")
        assert message.startswith("Group 1 mixes outcomes (failure, success)")
    assert stop_condition_errors(response, 2, "outcome") == []
    assert not StopCondition.objects.exists()


def test_a_deleted_row_does_not_count_toward_its_groups_outcome(post_action, action):
    kept = StopCondition.objects.create(action=action, path="state", value="closed", group=1)
    StopCondition.objects.create(action=action, path="number", value="8", group=1)

    response = post_action(**{
        "stop_conditions-0-outcome": "failure",
        "stop_conditions-1-outcome": "success",
        "stop_conditions-1-DELETE": "on",
    })

    assert response.status_code == 302
    [row] = action.stop_conditions.all()
    assert (row.pk, row.outcome) == (kept.pk, "failure")


def test_the_inline_lists_rows_by_group_then_position_and_explains_groups(client, admin_user, action):
    StopCondition.objects.create(action=action, position=0, path="late", group=2)
    StopCondition.objects.create(action=action, position=5, path="second", group=1)
    StopCondition.objects.create(action=action, position=1, path="first", group=1)
    client.force_login(admin_user)

    response = client.get(reverse("admin:integrations_action_change", args=[action.pk]))

    formset = inline_formset(response, "stop_conditions")
    assert [form.instance.path for form in formset.forms if form.instance.pk] == ["first", "second", "late"]
    html = response.content.decode()
    assert "rows with the same group number must all match; groups are tried in order" in html
    assert 'placeholder="new"' in html
    assert 'name="stop_conditions-0-group"' in html
