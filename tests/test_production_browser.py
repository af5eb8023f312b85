"""In a real Chromium, through the site served as in production: an Integrations Admin logs in and the
admin's stylesheets, served by WhiteNoise under hashed names, style the page.

The screenshot goes to test-artifacts/ so that a person can look at the page.
"""

import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop running in this thread; Django then refuses ORM calls
    # from it (making the test's user, the flush after the test) unless told they are safe.
    with pytest.MonkeyPatch.context() as monkeypatch, sync_api.sync_playwright() as playwright:
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def test_an_admin_logs_in_through_the_production_server_and_the_admin_stylesheet_applies(
    browser, production_server, admin_user
):
    context = browser.new_context(base_url=production_server.url, viewport={"width": 1280, "height": 900},
                                  color_scheme="light")
    page = context.new_page()
    try:
        page.goto("/admin/login/")
        page.fill("#id_username", admin_user.username)
        page.fill("#id_password", "alice-password-123")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")

        assert page.url == f"{production_server.url}/admin/"
        stylesheets = page.evaluate("[...document.styleSheets].map(sheet => sheet.href)")
        assert any(re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css$", href or "") for href in stylesheets)
        # base.css paints the header in the admin's blue and sets its own fonts; unstyled, it would be
        # transparent, in the browser's serif.
        header = page.eval_on_selector("#header", "element => getComputedStyle(element).backgroundColor")
        assert header == "rgb(65, 118, 144)"
        font = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "system-ui" in font
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "production-admin-index.png", full_page=True)
    finally:
        context.close()
