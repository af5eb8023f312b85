"""What a pytest-xdist worker must not share with the others, set before Django reads its settings.

Loaded by test.sh (python -m pytest -p tests.parallel: a plugin named on the command line is imported before
pytest-django reads the settings, which a conftest is not); it changes nothing when the suite runs in one process.
The environment, not settings overrides, so that the clusters and servers a test starts inherit it too:

- the cache: the autouse fresh_cache fixture clears it before every test, which on Redis is FLUSHDB. Each worker
  gets a Redis database of its own (the broker's queues live there too) and a cache directory of its own;
- the database needs nothing here: pytest-django gives each worker its own test database (test_NAME_gw0 on
  PostgreSQL, the SQLite file with _gw0 appended), and tests/cluster.py names each cluster's queue afresh.

REDIS_URL=redis://host:6379/N: worker gwK uses database N+K, or the K-th of REDIS_TEST_DBS (for example
REDIS_TEST_DBS=7,8,9) where the databases next to N belong to someone else.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def worker_redis_url(url, index, chosen=""):
    parts = urlsplit(url)
    dbs = [int(db) for db in chosen.replace(",", " ").split()]
    if dbs:
        if index >= len(dbs):
            raise RuntimeError(f"REDIS_TEST_DBS={chosen} names {len(dbs)} databases for more workers than that")
        db = dbs[index]
    else:
        db = int(parts.path.strip("/") or 0) + index
    return urlunsplit(parts._replace(path=f"/{db}"))


def isolate_worker(environ=os.environ):
    worker = environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... (set by xdist before the worker reads its options)
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    if environ.get("REDIS_URL"):
        environ["REDIS_URL"] = worker_redis_url(environ["REDIS_URL"], index, environ.get("REDIS_TEST_DBS", ""))
    environ["CACHE_DIR"] = str(Path(environ.get("CACHE_DIR") or ROOT / ".cache") / f"test-{worker}")


isolate_worker()
