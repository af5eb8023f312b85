"""A maximal import (INTEGRATIONS_IMPORT_MAX_ACTIONS actions, nearly INTEGRATIONS_IMPORT_MAX_ROWS rows and
INTEGRATIONS_IMPORT_MAX_BYTES as JSON) takes seconds, and is checked before its write transaction starts: runs are
started and claimed while it is checked.

On SQLite a write transaction holds the database's one write lock (IMMEDIATE transactions), so every run started,
every claim of the dispatcher and every answer written back waits for it, and gives up after the 30 s busy
timeout. An import used to check and write its 1,600 actions inside one transaction, for 96 s.
"""

import threading
import time

import pytest

from integrations import transfer
from integrations.manifests import manifest_document
from integrations.serializers import ActionDocumentSerializer
from runs.dispatch import claim_due
from runs.models import Run
from tests.api_helpers import token_client
from tests.engine_helpers import make_action

pytestmark = pytest.mark.django_db(transaction=True)

# Bounds with room for a loaded machine; measured on the reference machine (2 cores) with other suites running:
# about 1 s for the import, 0.1-0.4 s of it in the write transaction.
IMPORT_SECONDS = 15
WRITE_SECONDS = 3
# Starting a run and claiming it while an import is checked: a few statements, unless they wait for a lock.
ENGINE_SECONDS = 5


def maximal_document(settings):
    """A chain of INTEGRATIONS_IMPORT_MAX_ACTIONS steps, each with headers, a body, a stored field, a condition and
    the chain's variables as inputs (nearly INTEGRATIONS_IMPORT_MAX_ROWS rows in all), and as much text as brings
    the document to just under INTEGRATIONS_IMPORT_MAX_BYTES."""
    steps = settings.INTEGRATIONS_IMPORT_MAX_ACTIONS
    # Each step declares every variable of the chain: as many as the rows allow, beside its mapping and condition.
    variables = [f"var_{index}" for index in range(settings.INTEGRATIONS_IMPORT_MAX_ROWS // steps - 2)]
    execute = [{
        "url": f"https://api.example.test/users/{{{{ var_0 }}}}/steps/{number}",
        "method": "POST",
        "headers": {"Authorization": "Bearer {{ TOKEN }}", "Content-Type": "application/json"},
        "data": {"previous": f"{{{{ value_{number - 1} }}}}" if number > 1 else "none",
                 **{name: f"{{{{ {name} }}}}" for name in variables}},
        "store_data": {f"value_{number}": "id"},
        **({"continue_if": {"response_notation": "status", "value": "ok"}} if number % 3 == 0 else {}),
    } for number in range(1, steps + 1)]
    document = manifest_document({"initial_data_form": [{"id": "TOKEN"}], "execute": execute}, name="Maximal",
                                 secrets={"TOKEN": "t0ken-value"})
    for action in document["actions"]:
        action["description"] = ""
    room = settings.INTEGRATIONS_IMPORT_MAX_BYTES - transfer.json_size(document)
    for action in document["actions"]:
        action["description"] = "x" * (room // steps)
    rows = sum(len(action[key]) for action in document["actions"]
               for key in ("inputs", "stop_conditions", "continue_if", "mappings"))
    assert 0.95 * settings.INTEGRATIONS_IMPORT_MAX_ROWS < rows <= settings.INTEGRATIONS_IMPORT_MAX_ROWS
    assert 0.99 * settings.INTEGRATIONS_IMPORT_MAX_BYTES < transfer.json_size(document) \
        <= settings.INTEGRATIONS_IMPORT_MAX_BYTES
    return document


@pytest.fixture
def write_times(monkeypatch):
    """How long each import's write transaction lasted."""
    times, write = [], transfer._write

    def timed(checked):
        started = time.perf_counter()
        try:
            return write(checked)
        finally:
            times.append(time.perf_counter() - started)

    monkeypatch.setattr(transfer, "_write", timed)
    return times


def test_a_maximal_document_imports_and_replaces_within_seconds(settings, write_times):
    document = maximal_document(settings)

    started = time.perf_counter()
    integration, created = transfer.import_integration(document)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    _, replaced_created = transfer.import_integration(document, replace=True)
    replaced = time.perf_counter() - started

    assert created and not replaced_created
    assert integration.actions.count() == settings.INTEGRATIONS_IMPORT_MAX_ACTIONS
    last = integration.actions.get(slug=f"step-{settings.INTEGRATIONS_IMPORT_MAX_ACTIONS}")
    assert last.previous_actions.get().slug == f"step-{settings.INTEGRATIONS_IMPORT_MAX_ACTIONS - 1}"
    assert [row.field for row in last.mappings.all()] == [f"value_{settings.INTEGRATIONS_IMPORT_MAX_ACTIONS}"]
    assert imported < IMPORT_SECONDS and replaced < IMPORT_SECONDS, (imported, replaced)
    assert max(write_times) < WRITE_SECONDS, write_times


def test_a_run_is_started_and_claimed_while_an_import_is_checked(settings, admin_user, monkeypatch, write_times):
    from django.db import connection

    action = make_action("https://jobs.example.test")
    document = maximal_document(settings)
    checking, engine_done = threading.Event(), threading.Event()
    validate, checked = ActionDocumentSerializer.validate, []

    def validate_and_pause_halfway(serializer, attrs):
        checked.append(attrs.get("slug"))
        if len(checked) == settings.INTEGRATIONS_IMPORT_MAX_ACTIONS // 2:
            checking.set()
            engine_done.wait(60)  # the import stays mid-check while the engine works
        return validate(serializer, attrs)

    monkeypatch.setattr(ActionDocumentSerializer, "validate", validate_and_pause_halfway)
    outcome = {}

    def run_import():
        try:
            outcome["imported"] = transfer.import_integration(document)
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc
        finally:
            checking.set()
            connection.close()

    importer = threading.Thread(target=run_import)
    importer.start()
    try:
        assert checking.wait(60)
        started = time.perf_counter()
        answer = token_client(admin_user).post(f"/api/actions/{action.pk}/runs/", {}, format="json")
        claimed, _ = claim_due(10)
        engine = time.perf_counter() - started
    finally:
        engine_done.set()
        importer.join(120)

    assert answer.status_code == 201, answer.content
    assert claimed == [answer.json()["id"]]
    assert Run.objects.get(pk=claimed[0]).lease_token
    assert engine < ENGINE_SECONDS, engine
    assert "error" not in outcome, outcome.get("error")
    assert outcome["imported"][0].actions.count() == settings.INTEGRATIONS_IMPORT_MAX_ACTIONS
    assert len(write_times) == 1
