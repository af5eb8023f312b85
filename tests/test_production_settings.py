"""Production settings refuse to start on development defaults or on keys too short to be safe."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k" * 32


def load_production_settings(**env):
    """Import the production settings in a fresh interpreter; returns (exit code, stderr)."""
    environment = {
        key: value for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "INTEGRATIONS_ENCRYPTION_KEY", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(DJANGO_SETTINGS_MODULE="integrations_site.settings_production", **env)
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )
    return done.returncode, done.stderr


def test_good_keys_start():
    code, stderr = load_production_settings(SECRET_KEY=GOOD_KEY, INTEGRATIONS_ENCRYPTION_KEY=GOOD_KEY + "x")

    assert code == 0, stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "INTEGRATIONS_ENCRYPTION_KEY"])
@pytest.mark.parametrize("value, fault", [
    ("", "is empty"),
    ("   ", "is empty"),
    ("short-key", "has 9 characters"),
    ("k" * 31, "has 31 characters"),
])
def test_an_empty_or_short_key_is_refused_with_how_to_make_one(name, value, fault):
    code, stderr = load_production_settings(**{"SECRET_KEY": GOOD_KEY, "INTEGRATIONS_ENCRYPTION_KEY": GOOD_KEY,
                                               name: value})

    assert code != 0
    assert f"ImproperlyConfigured: {name} {fault}: give it at least 32 random characters." in stderr
    assert "secrets.token_urlsafe(50)" in stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "INTEGRATIONS_ENCRYPTION_KEY"])
def test_the_development_default_is_refused(name):
    others = {"SECRET_KEY": GOOD_KEY, "INTEGRATIONS_ENCRYPTION_KEY": GOOD_KEY}
    del others[name]

    code, stderr = load_production_settings(**others)

    assert code != 0
    assert f"Set {name}: the development default is not for production." in stderr
