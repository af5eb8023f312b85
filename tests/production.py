"""The site served as in production, against the test database: gunicorn with settings_production
(DEBUG off), the collected static files served by WhiteNoise.

The `production_server` fixture stands in for pytest-django's `live_server`: it has `.url` (and
str() is that URL). The test's data is committed (transactional_db) so that gunicorn's processes
see it, and this process encrypts secrets with the server's key, so either side reads the other's.

    def test_the_login_page_answers(production_server):
        assert requests.get(f"{production_server.url}/admin/login/").ok
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.cluster import database_url

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_SETTINGS = "integrations_site.settings_production"

# What the tester's own environment may hold that would make these processes differ from the
# production setup under test: HTTPS and cookie settings, another site's address or static root.
NOT_INHERITED = {
    "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "INTEGRATIONS_ENCRYPTION_KEY", "DEBUG", "ALLOWED_HOSTS",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "INTEGRATIONS_SANDBOX", "STATIC_ROOT",
    "ADDRESS", "PORT", "WEB_CONCURRENCY", "WEB_THREADS", "GUNICORN_CMD_ARGS",
}


def production_environment(**env):
    """The environment of a production process: fresh keys, DEBUG off, plain HTTP; keyword arguments add to it."""
    inherited = {
        key: value for key, value in os.environ.items()
        if key not in NOT_INHERITED and not key.startswith("SECURE_")
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": PRODUCTION_SETTINGS,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "INTEGRATIONS_ENCRYPTION_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        **{key: str(value) for key, value in env.items()},
    }


def collectstatic(static_root):
    """Collect the static files into static_root with the production storage (hashed, compressed names)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=production_environment(STATIC_ROOT=static_root),
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr


def wait_until_answering(url, process, timeout=60):
    """Wait until url answers at all (any status); fail early, with the reason, if process ends first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited with status {process.returncode} before answering {url}")
        try:
            return requests.get(url, timeout=5)
        # A read timeout too: on a loaded machine the first answer may take longer while the workers boot.
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class ProductionServer:
    """gunicorn serving integrations_site.wsgi with gunicorn.conf.py and settings_production, as serve.sh does.

    It listens on a socket bound here, on a free port of 127.0.0.1, and handed over (ADDRESS=fd://N),
    so no other process can take the port between choosing and binding it.
    """

    def __init__(self, static_root, log_path, **env):
        self.env = production_environment(
            DATABASE_URL=database_url(), STATIC_ROOT=static_root, WEB_CONCURRENCY=2, **env,
        )
        self.log_path = Path(log_path)
        self.process = None
        self.url = None

    def __str__(self):
        return self.url

    def start(self):
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        try:
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                    cwd=ROOT,
                    env={**self.env, "ADDRESS": f"fd://{listener.fileno()}"},
                    pass_fds=[listener.fileno()],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            listener.close()  # gunicorn holds it now; once gunicorn is gone, connecting is refused
        try:
            wait_until_answering(f"{self.url}/admin/login/", self.process)
        except Exception as error:
            self.stop()
            raise RuntimeError(f"gunicorn did not start ({error}):\n{self.output()}") from error
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def output(self):
        """What gunicorn and the site logged so far (access log included)."""
        return self.log_path.read_text(errors="replace")


def require_production_packages():
    for name in ("gunicorn", "whitenoise"):
        pytest.importorskip(name, reason=f"{name} is not installed (it is in requirements.txt)")


@pytest.fixture(scope="session")
def production_static_root(tmp_path_factory):
    """A STATIC_ROOT filled by collectstatic with the production storage, once per test session."""
    require_production_packages()
    static_root = tmp_path_factory.mktemp("production-static")
    collectstatic(static_root)
    return static_root


@pytest.fixture
def production_server(transactional_db, production_static_root, settings, tmp_path):
    """gunicorn with settings_production on a free port of 127.0.0.1, against the test database."""
    server = ProductionServer(production_static_root, tmp_path / "gunicorn.log")
    settings.INTEGRATIONS_ENCRYPTION_KEY = server.env["INTEGRATIONS_ENCRYPTION_KEY"]
    server.start()
    yield server
    server.stop()
