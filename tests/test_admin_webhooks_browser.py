"""In a real browser: an Integrations Admin adds a webhook subscription and sees its secret once."""

from tests.browser import ARTIFACTS, BROWSER, browser, orm_beside_playwright, page  # noqa: F401 (fixtures)
from tests.webhook_helpers import grant_group_permissions
from webhooks.models import Subscription

pytestmark = BROWSER


def test_an_admin_adds_a_subscription_and_sees_its_secret_once(page, admin_user):
    grant_group_permissions()

    page.goto("/admin/webhooks/subscription/add/")
    page.fill("#id_name", "Ops alerts")
    page.fill("#id_url", "https://hooks.example.com/integrations")
    page.check("input[name=events][value='run.failed']")
    page.check("input[name=events][value='chain.finished']")
    page.click("input[name=_save]")
    page.wait_for_selector("#webhook-secret")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webhook_secret_shown_once.png"), full_page=True)

    subscription = Subscription.objects.get()
    assert page.inner_text("#webhook-secret") == subscription.secret
    assert sorted(subscription.events) == ["chain.finished", "run.failed"]
    page.click("text=I have copied it")
    page.wait_for_selector("#subscription_form")
    assert subscription.secret not in page.content()
    page.screenshot(path=str(ARTIFACTS / "webhook_subscription_after.png"), full_page=True)
