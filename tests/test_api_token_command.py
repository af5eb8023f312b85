"""manage.py api_token USERNAME prints the user's API token, creating it once."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def api_token(username, capsys):
    call_command("api_token", username)
    return capsys.readouterr().out.strip()


def test_it_creates_a_token_the_api_accepts(admin_user, capsys):
    key = api_token("alice", capsys)

    assert Token.objects.get(user=admin_user).key == key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/integrations/").status_code == 200


def test_it_prints_the_same_token_again_rather_than_a_new_one(admin_user, capsys):
    first = api_token("alice", capsys)

    assert api_token("alice", capsys) == first
    assert Token.objects.count() == 1


def test_it_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user is called 'nobody'."):
        call_command("api_token", "nobody")
    assert not Token.objects.exists()
