"""Failed admin sign-ins are limited per address and username (INTEGRATIONS_LOGIN_ATTEMPTS): past the limit the
page says so plainly, even to the right password, and no one else is locked out."""

import pytest
from django.test import Client


from tests.browser import BROWSER, browser, orm_beside_playwright, screenshot  # noqa: F401

PASSWORD = "alice-password-123"


def browser_marks(test):
    for mark in BROWSER:
        test = mark(test)
    return test


def sign_in(client, username, password, address="127.0.0.1"):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"},
                       REMOTE_ADDR=address)


def test_past_the_limit_even_the_right_password_is_refused_with_a_clear_message(settings, admin_user):
    settings.INTEGRATIONS_LOGIN_ATTEMPTS = "3/hour"
    client = Client()

    wrong = [sign_in(client, "alice", "guess").status_code for _ in range(3)]
    refused = sign_in(client, "alice", PASSWORD)

    assert wrong == [200, 200, 200]
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert "Too many failed sign-ins for this username from your address" in refused.content.decode()
    assert "Try again in 60 minute(s)" in refused.content.decode()


def test_others_are_not_locked_out(settings, admin_user, viewer_user):
    settings.INTEGRATIONS_LOGIN_ATTEMPTS = "3/hour"
    for _ in range(3):
        sign_in(Client(), "alice", "guess")

    # The same person from another address, and another username from this one, sign in.
    assert sign_in(Client(), "alice", PASSWORD, address="10.0.0.9").status_code == 302
    assert sign_in(Client(), "bob", "bob-password-123").status_code == 302


def test_below_the_limit_the_right_password_signs_in(settings, admin_user):
    settings.INTEGRATIONS_LOGIN_ATTEMPTS = "3/hour"
    for _ in range(2):
        sign_in(Client(), "alice", "guess")

    assert sign_in(Client(), "alice", PASSWORD).status_code == 302


@pytest.mark.django_db(transaction=True)
@browser_marks
def test_the_login_page_says_why_in_a_browser(settings, browser, live_server, admin_user):
    settings.INTEGRATIONS_LOGIN_ATTEMPTS = "2/hour"
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1000, "height": 700})
    page = context.new_page()
    try:
        for password in ("guess", "guess", PASSWORD):
            page.goto("/admin/login/")
            page.fill("#id_username", "alice")
            page.fill("#id_password", password)
            page.click("input[type=submit]")
            page.wait_for_selector(".errornote")

        assert "Too many failed sign-ins" in page.inner_text(".errornote")
        assert page.url.endswith("/admin/login/")
        screenshot(page, "admin-login-throttled")
    finally:
        context.close()
