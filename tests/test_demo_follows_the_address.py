"""The demo works wherever it runs: ADDRESS moves the public URL, and the demo's base URL and callbacks with it.

`ADDRESS=127.0.0.1:8500 ./run.sh` used to leave the demo on :8000, so that its
first run failed with "Connection refused".
"""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from integrations.models import Integration
from integrations_site.env import listening_url
from runs.services import start_run

ROOT = Path(__file__).resolve().parent.parent

SHOW_DEMO = """
import json
from django.conf import settings
from integrations.models import Action
from runs.services import start_run
action = Action.objects.get(integration__slug="sandbox", slug="run-job-callback")
run = start_run(action, {})
print(json.dumps({"public_url": settings.INTEGRATIONS_PUBLIC_URL, "base_url": action.integration.base_url,
                  "callback_url": run.callback_url}))
"""


@pytest.mark.parametrize(
    "address, url",
    [
        ("127.0.0.1:8500", "http://127.0.0.1:8500"),
        ("8500", "http://127.0.0.1:8500"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("localhost:9000", "http://localhost:9000"),
        ("[::1]:8500", "http://[::1]:8500"),
        ("unix:/run/integrations.sock", "http://127.0.0.1:8000"),
        ("fd://3", "http://127.0.0.1:8000"),
        ("", "http://127.0.0.1:8000"),
        (None, "http://127.0.0.1:8000"),
    ],
)
def test_the_listening_url_of_an_address(address, url):
    assert listening_url(address) == url


def run_manage(environment, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=300, check=True)


def test_run_sh_s_steps_with_address_put_the_demo_and_its_callbacks_on_that_address(tmp_path):
    # What run.sh does with ADDRESS exported: migrate, load_demo, then the site; here on a database of its own.
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("INTEGRATIONS_PUBLIC_URL", "PORT", "DJANGO_SETTINGS_MODULE")}
    environment.update(ADDRESS="127.0.0.1:8500", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")

    run_manage(environment, "migrate", "--noinput", "-v", "0")
    loaded = run_manage(environment, "load_demo")
    shown = json.loads(run_manage(environment, "shell", "-c", SHOW_DEMO).stdout.strip().splitlines()[-1])

    assert "at http://127.0.0.1:8500/sandbox/" in loaded.stdout
    assert shown["public_url"] == "http://127.0.0.1:8500"
    assert shown["base_url"] == "http://127.0.0.1:8500/sandbox/"
    assert shown["callback_url"].startswith("http://127.0.0.1:8500/")
    assert ":8000" not in json.dumps(shown)


@pytest.mark.django_db
def test_a_demo_loaded_at_the_old_default_address_moves_to_the_new_one(settings):
    settings.INTEGRATIONS_PUBLIC_URL = "http://127.0.0.1:8000"
    call_command("load_demo", stdout=StringIO())
    assert Integration.objects.get(slug="sandbox").base_url == "http://127.0.0.1:8000/sandbox/"

    settings.INTEGRATIONS_PUBLIC_URL = "http://127.0.0.1:8500"
    call_command("load_demo", stdout=StringIO())

    integration = Integration.objects.get(slug="sandbox")
    assert integration.base_url == "http://127.0.0.1:8500/sandbox/"
    run = start_run(integration.actions.get(slug="run-job-callback"), {})
    assert run.callback_url.startswith("http://127.0.0.1:8500/")
