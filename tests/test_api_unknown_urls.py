"""Every URL under /api/ answers in JSON, the ones no route matches too."""

import pytest

from tests.api_helpers import codes, detail, token_client


@pytest.mark.parametrize("method, path", [
    ("get", "/api/nothing-here/"),
    ("get", "/api/runs/1.5/"),
    ("post", "/api/runs/1.5/refire/"),
    ("post", "/api/actions/a/b/runs/"),
    ("post", "/api/callbacks/a%0Ab/"),
])
def test_a_url_no_route_matches_is_a_json_404(db, admin_user, method, path):
    response = getattr(token_client(admin_user), method)(path, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert codes(response) == {None: ["not_found"]}
    assert detail(response) == "Not found."


def test_a_url_without_its_trailing_slash_is_served_as_the_url_with_it(db, admin_user):
    client = token_client(admin_user)

    assert client.get("/api/runs").json() == client.get("/api/runs/").json()
    # A POST cannot be redirected: it is answered as the URL with its slash would answer it, in JSON.
    response = client.post("/api/integrations", {"name": "No slash"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "no-slash"
    refused = client.post("/api/actions/999/runs", {}, format="json")
    assert refused.status_code == 404
    assert codes(refused) == {None: ["not_found"]}
