import pytest
from django.core.management import CommandError, call_command

from runs.models import Run, Status
from tests.engine_helpers import make_action


@pytest.fixture
def action(db, server):
    return make_action(server.base_url, slug="deploy", body_type="json", body='{"env": "{{ env }}"}',
                       inputs=[{"name": "env", "required": True, "choices": "staging,production"}])


def test_it_starts_a_run_with_the_variables_given(action, capsys):
    call_command("run_action", f"{action.integration.slug}/deploy", "--var", "env=staging")

    run = Run.objects.get()
    assert run.action == action
    assert run.variables == {"env": "staging"}
    assert run.status == Status.PENDING
    assert f"Run {run.pk} of" in capsys.readouterr().out


def test_it_finds_the_action_by_id_and_starts_a_rehearsal(action):
    call_command("run_action", str(action.pk), "--var", "env=production", "--rehearsal")

    assert Run.objects.get().rehearsal is True


def test_a_bad_variable_is_a_command_error_naming_it(action):
    with pytest.raises(CommandError, match="env"):
        call_command("run_action", f"{action.integration.slug}/deploy", "--var", "env=moon")

    assert not Run.objects.exists()


def test_a_variable_without_a_value_is_a_command_error(action):
    with pytest.raises(CommandError, match="NAME=VALUE"):
        call_command("run_action", f"{action.integration.slug}/deploy", "--var", "env")


def test_an_unknown_action_is_a_command_error(action):
    with pytest.raises(CommandError, match="No action 'nope/deploy'"):
        call_command("run_action", "nope/deploy", "--var", "env=staging")

    assert not Run.objects.exists()


def test_the_runworkers_hint_is_given_only_when_no_cluster_beats(action):
    from runs.heartbeats import beat
    from runs.models import Heartbeat
    from runs.management.commands.run_action import workers_missing

    call_command("run_action", f"{action.integration.slug}/deploy", "--var", "env=staging")
    run = Run.objects.get()

    assert not workers_missing(run, waited=2)
    assert workers_missing(run, waited=6)
    beat()  # a live cluster: the run is simply waiting its turn or its request is out
    assert not workers_missing(run, waited=6)
    Heartbeat.objects.all().delete()
    run.status = Status.RUNNING  # its first request is out: no hint, however long it takes
    assert not workers_missing(run, waited=60)
