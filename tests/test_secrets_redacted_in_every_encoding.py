"""A service that echoes a secret in any encoding (JSON escapes in any mix, URL encoding, base64, XML character
references) gets it stored and shown as ***: in the exchange, the run's fields and reason, the API and the Debug
view (which decodes JSON for display, and so would show any escape that was not masked).

Each case runs a real action against a real server on 127.0.0.1 that reads the secret from the request it got
and echoes it in one encoding, in its body and in a header.
"""

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus

import pytest
from django.urls import reverse

from integrations.models import Integration
from runs.models import Exchange, Status
from runs.services import start_run
from tests.api_helpers import token_client
from tests.engine_helpers import drive, make_action
from tests.servers import reply
from tests.test_secret_redaction import database_text

pytestmark = pytest.mark.usefixtures("q_sync")

# A slash (PHP escapes it), a plus and a space (URL encoding), a quote and a backslash (JSON escapes them),
# a non-ASCII letter (\u00fc, two UTF-8 bytes in a URL) and one outside the BMP (a JSON surrogate pair).
SECRET = 'Sup3r/Secret+Val=ue "q" b\\s \u00fc\U0001F511'


def unicode_escaped(text, upper=False, every=1):
    """Every ``every``-th character as \\uXXXX (surrogate pairs beyond the BMP); the others as JSON writes them."""
    out = []
    for index, char in enumerate(text):
        if index % every:
            out.append(json.dumps(char, ensure_ascii=False)[1:-1])
            continue
        units = char.encode("utf-16-be", "surrogatepass")
        for at in range(0, len(units), 2):
            code = f"{int.from_bytes(units[at:at + 2], 'big'):04x}"
            out.append("\\u" + (code.upper() if upper else code))
    return "".join(out)


def json_string(escaped):
    return '"' + escaped + '"'


def php(text):
    return json.dumps(text).replace("/", "\\/")


def lower_hex(encoded):
    return re.sub(r"%[0-9A-F]{2}", lambda match: match[0].lower(), encoded)


def mixed_url(text):
    """Every other character percent-encoded in lower case, the others as quote_plus writes them."""
    return "".join(lower_hex(quote(char, safe="")) if index % 2 else quote_plus(char, safe="/=")
                   for index, char in enumerate(text))


def xml_references(text):
    return "".join(f"&#{ord(char)};" if index % 2 else f"&#x{ord(char):x};" for index, char in enumerate(text))


# name: the echo as JSON text (what goes into the answer's "echo" member, already a JSON value)
ENCODINGS = {
    "JSON as PHP writes it (\\/)": php,
    "every character \\u-escaped, lower case": lambda s: json_string(unicode_escaped(s)),
    "every character \\u-escaped, upper case": lambda s: json_string(unicode_escaped(s, upper=True)),
    "every other character \\u-escaped": lambda s: json_string(unicode_escaped(s, every=2)),
    "a JSON document in a JSON string (escapes escaped)": lambda s: json.dumps(php({"key": s})),
    "URL-encoded, upper case %XX": lambda s: json.dumps(quote(s, safe="")),
    "URL-encoded, lower case %xx": lambda s: json.dumps(lower_hex(quote(s, safe=""))),
    "URL-encoded with + for the space": lambda s: json.dumps(quote_plus(s, safe="")),
    "URL-encoded every other character": lambda s: json.dumps(mixed_url(s)),
    "URL-encoded then \\u-escaped": lambda s: json_string(unicode_escaped(quote(s, safe=""), every=3)),
    "base64": lambda s: json.dumps(base64.b64encode(s.encode()).decode()),
    "URL-safe base64 inside a longer token": lambda s: json.dumps(base64.urlsafe_b64encode(b"user:" + s.encode())
                                                                  .decode()),
    "XML character references": lambda s: json.dumps(xml_references(s)),
}


def echoing(encode):
    def answer(request):
        """The careless service: it repeats the key it was sent, encoded its way, in its body and a header."""
        echo = encode(request.json()["key"])
        body = '{"status": "done", "echo": ' + echo + "}"
        header = echo.encode("ascii", "backslashreplace").decode()
        return reply(text=body, content_type="application/json", headers={"X-Echo": header})
    return answer


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_echoed_secret_is_masked_in_the_log_fields_reason_api_and_debug_view(encoding, staff, admin_user,
                                                                                  server):
    encode = ENCODINGS[encoding]
    integration = Integration.objects.create(name="Careless", slug="careless", base_url=server.base_url)
    integration.secrets.create(name="KEY", value=SECRET)
    server.script("/jobs", echoing(encode))
    action = make_action(
        server.base_url, integration=integration, body_type="json", body='{"key": "{{ secrets.KEY }}"}',
        # The failure quotes the value found in the reason, and the target field keeps it.
        stop=[("echo", "exists", "", "failure", "echoed")],
    )

    run = drive(start_run(action))

    assert run.status == Status.FAILED, run.reason
    echoed = encode(SECRET)  # what the service sent back, as JSON text
    assert server.requests[0].json()["key"] == SECRET
    assert json.loads(server.requests_to("/jobs")[0].body)["key"] == SECRET
    exchange = Exchange.objects.get(run=run)
    stored = json.loads(exchange.response_body)  # the log still holds valid JSON
    assert "***" in json.dumps(stored["echo"]), exchange.response_body
    assert "***" in exchange.response_headers["X-Echo"]
    assert "***" in run.reason
    assert "***" in json.dumps(run.fields["echoed"])

    # Nothing the service sent back, nor the secret in any of the spellings under test, is stored anywhere.
    spellings = {SECRET, echoed, json.loads(echoed) if isinstance(json.loads(echoed), str) else echoed,
                 exchange_header_sent(echoed)}
    dump = database_text()
    for spelling in spellings:
        assert spelling not in dump

    api = token_client(admin_user)
    answers = [api.get(f"/api/runs/{run.pk}/"), api.get(f"/api/runs/{run.pk}/exchanges/")]
    page = staff.get(reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk]))
    assert [answer.status_code for answer in answers] == [200, 200]
    assert page.status_code == 200
    shown = page.context["debug"]["response"].body.text  # decoded from JSON for display
    assert page.context["debug"]["response"].body.language == "json"
    for text in [answer.content.decode() for answer in answers] + [html.unescape(page.content.decode()), shown]:
        for spelling in spellings | {decoded_for_display(echoed)}:
            assert spelling not in text


def exchange_header_sent(echoed):
    return echoed.encode("ascii", "backslashreplace").decode()


def decoded_for_display(echoed):
    """What the Debug view would show of the echo had it not been masked: JSON decoded, once or twice."""
    value = json.loads(echoed)
    if isinstance(value, str) and value.startswith("{"):
        value = json.loads(value)["key"]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
