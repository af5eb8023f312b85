"""In a real Chromium, through the site served as in production: an Integrations Admin logs in and the
admin's stylesheets, served by WhiteNoise under hashed names, style the page.

The screenshot goes to test-artifacts/ so that a person can look at the page.
"""

import re

from tests.browser import BROWSER, browser, orm_beside_playwright, screenshot  # noqa: F401

pytestmark = BROWSER


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
        screenshot(page, "production-admin-index")
    finally:
        context.close()
