"""Shared pieces of the browser tests: Debian's Chromium driven by Playwright, logins and screenshots.

A test module imports the fixtures it uses (``from tests.browser import browser, ...``) and marks
itself with ``pytestmark = BROWSER``. Screenshots go to test-artifacts/ (ignored by git) for a person
to look at.
"""

from pathlib import Path

import pytest
from django.urls import reverse

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def orm_beside_playwright():
    # Playwright's sync API keeps an event loop running in this thread; Django
    # then refuses ORM calls from it (even the flush after each test) unless told they are safe.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(orm_beside_playwright):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, transactional_db, live_server, admin_user):
    """A browser tab logged in as an Integrations Admin, on the live server."""
    page = logged_in_page(browser, live_server.url, admin_user.username, "alice-password-123")
    yield page
    page.context.close()


def logged_in_page(browser, base_url, username, password, *, width=1280, height=900):
    """A new tab of its own browser context, logged into the admin at ``base_url``."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(reverse("admin:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
    return page


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def open_section(page, name):
    """Open the section ``name`` ("Request", "Polling", "Conditions and mappings", "Settings") of a form in
    sections (the action page: form-sections.js) by its tab, as a person does, and wait until it shows."""
    tab = page.get_by_role("tab", name=name)
    tab.click()
    page.locator(f"#{tab.get_attribute('aria-controls')}").wait_for(state="visible")
