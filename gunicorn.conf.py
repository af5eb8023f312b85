"""Gunicorn's settings for serve.sh; gunicorn reads ./gunicorn.conf.py by itself.

ADDRESS (host:port) or PORT (all interfaces) say where to listen, WEB_CONCURRENCY how many
processes answer requests and WEB_THREADS how many threads each; GUNICORN_CMD_ARGS adds any other
gunicorn option.
"""

import os

# Bare `gunicorn` serves production too, not the development settings wsgi.py falls back to.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_site.settings_production")
wsgi_app = "integrations_site.wsgi"

if os.environ.get("ADDRESS"):
    bind = [os.environ["ADDRESS"]]
elif os.environ.get("PORT"):
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8000"]

# (2 x cores) + 1 processes as gunicorn's documentation suggests, each with WEB_THREADS threads: a
# request that waits for a run (GET /api/runs/{id}/?wait=60) holds a thread, not a process, so many
# waiters leave the API answering. A waiting request holds no database connection (nor keeps one
# after), so PostgreSQL's max_connections bounds the threads that answer other requests, not waiters.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 100)
accesslog = "-"
# No gunicornc control socket: nothing here uses it, and its one default path per user would be
# shared by every gunicorn of that user on the machine.
control_socket_disable = True
