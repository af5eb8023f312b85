"""Every URL under /api/ answers in JSON, the ones no route matches too."""

import pytest

from tests.api_helpers import token_client


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
    assert response.json() == {"detail": "Not found."}


def test_a_url_without_its_trailing_slash_is_still_redirected_to_it(db, admin_user):
    response = token_client(admin_user).get("/api/runs")

    assert response.status_code == 301
    assert response["Location"] == "/api/runs/"
