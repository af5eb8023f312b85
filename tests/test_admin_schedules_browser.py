"""In a real browser: an Integrations Admin adds a schedule, is told on the field what is wrong with its cron
expression, fixes it, and finds it in the list with its next start and a link to its runs."""

from runs import schedules
from runs.models import Schedule
from tests.browser import ARTIFACTS, BROWSER, browser, orm_beside_playwright, page  # noqa: F401 (fixtures)
from tests.engine_helpers import make_action
from tests.schedule_helpers import grant_group_permissions

pytestmark = BROWSER


def test_an_admin_adds_a_schedule_in_the_admin(page, admin_user):
    grant_group_permissions()
    action = make_action("http://127.0.0.1:9", name="Sync users", inputs=["env"])

    page.goto("/admin/runs/schedule/add/")
    page.fill("#id_name", "Weekday mornings")
    page.select_option("#id_action", str(action.pk))
    page.select_option("#id_kind", "cron")
    page.fill("#id_cron", "30 8 * * mon-fri *")
    page.fill("#id_timezone", "Europe/Paris")
    page.fill("#id_variables", '{"env": "prod"}')
    page.click("input[name=_save]")
    page.wait_for_selector(".field-cron .errorlist")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "schedule_bad_cron.png"), full_page=True)
    assert "five fields" in page.inner_text(".field-cron .errorlist")
    assert not Schedule.objects.exists()

    page.fill("#id_cron", "30 8 * * mon-fri")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    page.screenshot(path=str(ARTIFACTS / "schedule_list.png"), full_page=True)

    made = Schedule.objects.get()
    local = made.next_tick_at.astimezone(schedules.zone("Europe/Paris"))
    assert (local.hour, local.minute, local.weekday() < 5) == (8, 30, True)
    assert made.variables == {"env": "prod"} and made.created_by == admin_user
    row = page.inner_text("#result_list tbody tr")
    assert "Weekday mornings" in row and "30 8 * * mon-fri" in row
    assert page.get_attribute("#result_list time", "datetime") == made.next_tick_at.isoformat()
    assert page.inner_text("#result_list time") == f"{local:%Y-%m-%d} 08:30:00 Europe/Paris"
    page.click("a.schedule-runs")
    page.wait_for_selector("#changelist")
    assert f"schedule={made.pk}" in page.url
