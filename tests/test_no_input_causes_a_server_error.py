"""No input causes a server error: JSON nested 100,000 deep, 1e999, lone surrogates and NUL, sent to every
operation of /api/schema/ (in each field of its body, rows' fields included, in its path and its query),
get a 400 that names the field (or a 404 for an id that names nothing), on SQLite and PostgreSQL alike; and
whatever was accepted meanwhile, every page of the API still answers 200.

The operations come from the schema when the tests are collected, so those added later are covered too.
Requests go in-process as an Integrations Admin with a token, to an integration, an action and a run that
exist, so that each operation reads its body rather than stopping at a 404.
"""

import json

import pytest
from django.test import Client

from integrations.models import Action, Integration
from runs.models import Schedule
from runs.services import start_run
from tests.api_helpers import codes, token_client
from tests.engine_helpers import make_action
from tests.webhook_helpers import subscribe

SCHEMA = json.loads(Client().get("/api/schema/?format=json").content)

# name: (the value as JSON text, as form text)
HOSTILE = {
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "[" * 100_000 + "]" * 100_000),
    "1e999": ("1e999", "1e999"),
    "a lone surrogate": ('"a\\ud800b"', '"a\\ud800b"'),
    "a NUL": ('"a\\u0000b"', "a\x00b"),
    "a lone surrogate as a name": ('{"\\udfff": "x"}', '{"\\udfff": "x"}'),
}
IN_URLS = ["1e999", "-1e999", "99999999999999999999999999", "%ED%A0%80", "%00", "%25", "%5Cud800"]


def _resolve(schema):
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _body_places(operation):
    """Each place in the operation's JSON body: (field,) or (rows field, 0, row field)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return []
    places = []
    for name, field in _resolve(content["schema"]).get("properties", {}).items():
        if field.get("readOnly"):
            continue
        places.append((name,))
        items = _resolve(field.get("items", {})) if field.get("type") == "array" else {}
        places += [(name, 0, row_field) for row_field in items.get("properties", {})]
    return places


def _document(place, value):
    """JSON text holding ``value`` (JSON text) at ``place``."""
    text = value
    for part in reversed(place):
        text = f"[{text}]" if isinstance(part, int) else f"{{{json.dumps(part)}: {text}}}"
    return text


BODY_OPERATIONS = [
    pytest.param(method, path, operation, id=f"{method} {path}")
    for method, path, operation in _operations()
    if _body_places(operation)
]
URL_OPERATIONS = [
    pytest.param(method, path, operation, id=f"{method} {path}")
    for method, path, operation in _operations()
    if operation.get("parameters")
]


@pytest.fixture
def objects(admin_user, server):
    """An integration with an action and a run, a webhook subscription and a schedule, whose ids the operations'
    paths take."""
    action = make_action(server.base_url, slug="no-inputs")
    run = start_run(action)
    subscription = subscribe(server.url("/receiver"))
    schedule = Schedule.objects.create(action=action, name="Hourly", kind="cron", cron="0 * * * *", timezone="UTC")
    return {"id": None, "action_id": action.pk, "token": run.callback_token, "name": "report.txt",
            "integration": action.integration_id, "action": action.pk, "run": run.pk, "webhook": subscription.pk,
            "schedule": schedule.pk}


def _url(path, objects, method):
    ids = {"id": objects["run"] if path.startswith("/api/runs/") else
           objects["action"] if path.startswith("/api/actions/") else
           objects["webhook"] if path.startswith("/api/webhooks/") else
           objects["schedule"] if path.startswith("/api/schedules/") else objects["integration"]}
    url = path
    for name in ("id", "action_id", "token", "name"):
        url = url.replace(f"{{{name}}}", str(ids.get(name) or objects[name]))
    return url


def _names(response, place, name):
    """Whether a 400 names the field at ``place`` in its faults' attr (a fault of depth: the top-level field)."""
    attrs = [attr for attr in codes(response) if attr]
    if name == "nested 100,000 deep" or len(place) == 1:
        return any(attr == place[0] or attr.startswith(f"{place[0]}.") for attr in attrs)
    at = ".".join(str(part) for part in place)
    return any(attr == at or attr.startswith(f"{at}.") for attr in attrs)


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


def assert_every_page_answers(api):
    """What was accepted meanwhile can be read back: every list, object and export of the API answers 200."""
    for url in ("/api/integrations/", "/api/actions/", "/api/runs/"):
        assert api.get(url).status_code == 200, url
    for integration in Integration.objects.all():
        assert api.get(f"/api/integrations/{integration.pk}/").status_code == 200
        assert api.get(f"/api/integrations/{integration.pk}/export/").status_code == 200
    for action in Action.objects.all():
        assert api.get(f"/api/actions/{action.pk}/").status_code == 200


@pytest.mark.parametrize("method, path, operation", BODY_OPERATIONS)
def test_a_json_body_holding_it_is_a_400_naming_the_field(api, objects, method, path, operation):
    url = _url(path, objects, method)
    faults = []
    for place in _body_places(operation):
        for name, (value, _) in HOSTILE.items():
            response = api.generic(method, url, _document(place, value), content_type="application/json")
            if response.status_code != 400 or not _names(response, place, name):
                faults.append((place, name, response.status_code, response.content[:300]))

    assert faults == []
    assert_every_page_answers(api)


@pytest.mark.parametrize("method, path, operation", BODY_OPERATIONS)
def test_a_form_body_holding_it_in_any_field_is_a_415(api, objects, method, path, operation):
    # The API takes JSON only (README, "API conventions"): a form is refused before anything reads it.
    url = _url(path, objects, method)
    for place in _body_places(operation):
        if len(place) > 1:
            continue
        for name, (_, text) in HOSTILE.items():
            response = api.generic(method, url, _form(place[0], text),
                                   content_type="application/x-www-form-urlencoded")
            assert response.status_code == 415, (place, name, response.content[:500])
            assert codes(response) == {None: ["unsupported_media_type"]}
        # Bytes that are not UTF-8, as a lone surrogate would be encoded.
        raw = f"{place[0]}=a%ED%A0%80b".encode()
        response = api.generic(method, url, raw, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415, (place, response.content[:500])
    assert_every_page_answers(api)


def _form(field, text):
    from urllib.parse import urlencode

    return urlencode({field: text}, encoding="utf-8", errors="surrogatepass")


@pytest.mark.parametrize("method, path, operation", URL_OPERATIONS)
def test_it_in_a_path_or_query_parameter_is_no_server_error(api, objects, method, path, operation):
    for parameter in operation["parameters"]:
        if parameter["in"] not in ("path", "query"):
            continue
        for value in IN_URLS:
            url = _url(path, objects, method)
            if parameter["in"] == "path":
                url = path.replace(f"{{{parameter['name']}}}", value)
                url = _url(url, objects, method)
            else:
                url += f"?{parameter['name']}={value}"
            response = api.generic(method, url, "{}", content_type="application/json")
            assert response.status_code < 500, (url, response.content[:500])
            if response.status_code == 400 and parameter["in"] == "query":
                assert parameter["name"] in codes(response), (url, response.json())
    assert_every_page_answers(api)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_callback_holding_it_is_judged_as_the_run_says_never_a_server_error(client, objects, settings, name):
    # Unauthenticated, with DEBUG on: a 500 here was Django's technical page, secrets and all.
    settings.DEBUG = True
    client.raise_request_exception = False
    Action.objects.filter(pk=objects["action"]).update(polling_mode="callback")

    response = client.post(f"/api/callbacks/{objects['token']}/", HOSTILE[name][0], content_type="application/json")

    assert response.status_code == 202, response.content[:300]
