import pytest

from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("job.status", "equals", "done", "success", "job_status"), ("job.status", "equals", "failed", "failure")]

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<job><status>&lol3;</status></job>"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE job [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<job><status>&xxe;</status></job>"""


def xml(text, status=200):
    return reply(status, text=text, content_type="application/xml")


def test_xml_poll_answers_are_read_by_dot_paths(db, server):
    server.script("/jobs", xml("<job><id>42</id><status>queued</status></job>", 201))
    server.script("/jobs/42", [xml("<job><status>running</status></job>"),
                               xml("<job><status>done</status><result href='https://x/r'>ok</result></job>")])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/{{ job_id }}", poll_interval=1,
                         convert_xml=True, stop=STOP,
                         mappings=[("job_id", "job.id"), ("result_href", "job.result.@href", "result")])

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields == {"job_id": "42", "job_status": "done", "result_href": "https://x/r"}
    assert [r.path for r in server.requests] == ["/jobs", "/jobs/42", "/jobs/42"]


def test_invalid_xml_fails_the_run_with_the_reason(db, server):
    server.script("/jobs", xml("<job><status>done</job>"))
    action = make_action(server.base_url, convert_xml=True, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "not valid XML" in run.reason
    exchange = run.exchanges.get()
    assert exchange.failed_part == "response"
    assert exchange.response_body == "<job><status>done</job>"


@pytest.mark.parametrize("document", [BOMB, EXTERNAL], ids=["entity-bomb", "external-entity"])
def test_xml_with_entity_declarations_is_refused_and_nothing_is_expanded(db, server, document):
    server.script("/jobs", xml(document))
    action = make_action(server.base_url, convert_xml=True, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "XML was refused" in run.reason
    assert "entit" in run.reason.lower()
    assert run.fields == {}
    assert "lollol" not in run.exchanges.get().decision
    assert "root:" not in run.reason


def test_a_poll_answer_in_invalid_xml_fails_the_run(db, server):
    server.script("/jobs", xml("<job><status>queued</status></job>"))
    server.script("/jobs/1", xml("not xml at all"))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                         convert_xml=True, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "not valid XML" in run.reason
    assert run.polls == 1
