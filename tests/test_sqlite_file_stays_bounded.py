"""On SQLite the database file stops growing under steady polling once retention prunes: a new file
vacuums incrementally, retention hands freed pages back, and the WAL is cut back after checkpoints."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from runs.retention import Retention
from tests.retention_helpers import changing_job, polled

pytestmark = [
    pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
                       reason="SQLite's file settings"),
    pytest.mark.usefixtures("q_sync"),
]


def pragma(name):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_every_connection_limits_the_wal_and_a_new_database_vacuums_incrementally(db):
    assert pragma("journal_mode") == "wal"
    assert pragma("journal_size_limit") == 16 * 1024 * 1024
    assert pragma("auto_vacuum") == 2  # INCREMENTAL: the test database was made new, with these settings


@pytest.mark.django_db(transaction=True)
def test_the_file_stops_growing_under_steady_polling_with_retention_on(server, settings):
    settings.INTEGRATIONS_EXCHANGES_KEPT_PER_RUN = 5
    action = changing_job(server, body_bytes=8000)  # each answer new, and two pages long
    run = polled(action, 20)
    pages = []
    for _ in range(8):
        polled(action, 25, run=run)
        done = Retention().finish()
        assert done.middle >= 25
        pages.append(pragma("page_count"))

    # 200 answers of 8 KB came in after the first round (1.6 MB, 400 pages); the file holds what a log
    # of 11 answers needs, and free pages went back to the file system.
    assert max(pages[1:]) <= pages[0] + 10, pages
    assert pragma("freelist_count") < 10


@pytest.mark.django_db(transaction=True)
def test_prune_exchanges_vacuum_turns_incremental_vacuuming_on_for_an_older_file(capsys):
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA auto_vacuum = NONE")
        cursor.execute("VACUUM")  # now as a file made before this setting
    assert pragma("auto_vacuum") == 0

    call_command("prune_exchanges", vacuum=True)

    assert pragma("auto_vacuum") == 2
    assert "Vacuumed: the database file holds" in capsys.readouterr().out
