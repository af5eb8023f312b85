"""Start the real `manage.py runworkers` (django-q2 cluster + dispatcher) against the test database."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url():
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


class Workers:
    """A runworkers process group; kill() sends SIGKILL to all of it."""

    def __init__(self, **env):
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "Q_CLUSTER_NAME": f"test-{uuid.uuid4().hex[:8]}",
            "INTEGRATIONS_LEASE_SECONDS": "1",
            "Q_WORKERS": "2",
            **{key: str(value) for key, value in env.items()},
        }
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runworkers"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        return self

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def again(self):
        """A new group on the same database and queue (after kill())."""
        other = Workers()
        other.env = dict(self.env)
        return other.start()
