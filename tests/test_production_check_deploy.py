"""`manage.py check --deploy` on the production settings: clean when the environment asks for HTTPS;
on plain HTTP the site still starts, and the check names what plain HTTP leaves open."""

import subprocess
import sys

import pytest

from tests.production import ROOT, production_environment

HTTPS = {
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def check_deploy(**env):
    """Run `manage.py check --deploy --fail-level WARNING` with the production settings; returns the finished process."""
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_environment(**env), capture_output=True, text=True, timeout=120,
    )


def warnings_in(done):
    """The security check ids (W004, ...) that a failed check names."""
    return sorted({part.split(")")[0] for part in done.stderr.split("(security.")[1:]})


def test_https_asked_for_passes_check_deploy_with_no_warning():
    done = check_deploy(**HTTPS)

    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_https_settings_are_read_from_the_environment():
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_environment(**HTTPS),
                          capture_output=True, text=True, timeout=60)

    assert done.stdout.strip() == "True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https')", done.stderr


def test_plain_http_warns_only_that_there_is_no_redirect_to_https_and_no_hsts():
    done = check_deploy()

    assert warnings_in(done) == ["W004", "W008"], done.stderr


def test_plain_http_with_cookies_that_browsers_send_over_http_warns_about_those_cookies_too():
    done = check_deploy(SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")

    assert warnings_in(done) == ["W004", "W008", "W012", "W016"], done.stderr


@pytest.mark.parametrize("value", ["X-Forwarded-Proto,https", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PROTO,https,x"])
def test_a_proxy_ssl_header_not_in_djangos_form_is_refused_with_an_example(value):
    done = check_deploy(**{**HTTPS, "SECURE_PROXY_SSL_HEADER": value})

    assert done.returncode != 0
    assert "ImproperlyConfigured: SECURE_PROXY_SSL_HEADER is" in done.stderr
    assert "for example HTTP_X_FORWARDED_PROTO,https" in done.stderr
