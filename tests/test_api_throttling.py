"""Throttling (integrations_site/throttling.py): past the rate in settings, 429 in the API's error shape with
Retry-After; per user, per address without credentials, per callback token; counted in the shared cache."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from tests.api_helpers import codes, token_client
from tests.definitions_api import token_client as definitions_client


@pytest.fixture
def carol(groups):
    user = User.objects.create_user("carol", password="carol-password-123")
    user.groups.add(Group.objects.get(name="Integrations Admin"))
    return user


def throttled(response):
    assert response.status_code == 429, response.content
    assert codes(response) == {None: ["throttled"]}
    assert 0 < int(response["Retry-After"]) <= 60
    return True


def test_a_token_past_its_rate_gets_429_with_retry_after_and_others_do_not(settings, admin_user, carol):
    settings.INTEGRATIONS_API_THROTTLE_USER = "3/min"
    api = definitions_client(admin_user)

    answers = [api.get("/api/integrations/").status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert throttled(api.get("/api/runs/"))
    assert token_client(carol).get("/api/integrations/").status_code == 200


def test_the_rate_is_read_from_settings(settings, admin_user):
    settings.INTEGRATIONS_API_THROTTLE_USER = "5/min"
    api = definitions_client(admin_user)

    assert [api.get("/api/integrations/").status_code for _ in range(5)] == [200] * 5
    assert throttled(api.get("/api/integrations/"))

    settings.INTEGRATIONS_API_THROTTLE_USER = None  # no limit
    assert api.get("/api/integrations/").status_code == 200


def test_requests_without_credentials_are_counted_per_address(settings, admin_user, client):
    settings.INTEGRATIONS_API_THROTTLE_ANON = "2/min"
    anonymous = token_client()

    assert [anonymous.get("/api/integrations/").status_code for _ in range(2)] == [401, 401]
    assert throttled(anonymous.get("/api/integrations/"))
    schema = anonymous.get("/api/schema/")
    assert schema.status_code == 429 and int(schema["Retry-After"]) > 0
    # Another address is not held back, nor is a client that sends its token.
    assert anonymous.get("/api/integrations/", REMOTE_ADDR="10.1.2.3").status_code == 401
    assert definitions_client(admin_user).get("/api/integrations/").status_code == 200


def test_the_callback_endpoint_is_counted_per_callback_token(settings, db):
    settings.INTEGRATIONS_API_THROTTLE_CALLBACK = "2/min"
    anonymous = token_client()

    first = [anonymous.post("/api/callbacks/token-a/", {}, format="json").status_code for _ in range(2)]

    assert first == [404, 404]  # no run has this token; counted all the same
    assert throttled(anonymous.post("/api/callbacks/token-a/", {}, format="json"))
    assert anonymous.post("/api/callbacks/token-b/", {}, format="json").status_code == 404


def test_counters_live_in_the_shared_cache_not_in_the_process(settings, admin_user):
    settings.INTEGRATIONS_API_THROTTLE_USER = "1/min"
    api = definitions_client(admin_user)
    assert api.get("/api/integrations/").status_code == 200

    assert "LocMemCache" not in type(cache).__name__
    assert cache.get(f"throttle_user_{admin_user.pk}")  # what another process reads
    cache.clear()
    assert api.get("/api/integrations/").status_code == 200


def test_wrong_tokens_are_counted_per_address_and_past_the_rate_no_token_is_looked_at(settings, admin_user):
    settings.INTEGRATIONS_API_THROTTLE_ANON = "3/min"
    right = definitions_client(admin_user)
    key = Token.objects.get(user=admin_user).key
    guessing = token_client()

    guesses = [guessing.get("/api/integrations/", HTTP_AUTHORIZATION=f"Bearer {key[:-1]}x{n}").status_code
               for n in range(3)]

    assert guesses == [401, 401, 401]
    # Past the rate, even the right key from that address is refused unread: guessing gains nothing.
    assert throttled(guessing.get("/api/integrations/", HTTP_AUTHORIZATION=f"Bearer {key}"))
    assert throttled(guessing.get("/api/integrations/", HTTP_AUTHORIZATION="Token wrong"))
    # Another address with the right key is served; a right key does not count as a guess.
    assert right.get("/api/integrations/", REMOTE_ADDR="10.9.8.7").status_code == 200
    assert [right.get("/api/integrations/", REMOTE_ADDR="10.9.8.6").status_code for _ in range(4)] == [200] * 4
