"""Counts rows written (INSERT/UPDATE/DELETE) by every process of a benchmarked cluster.

Imported by bench/workers.py before Django starts: each database connection
gets an execute wrapper; each process writes its total to DIR/writes-PID
twice a second.
"""

import os
import threading
import time

from django.db.backends.signals import connection_created

_state = {"pid": None, "rows": 0, "lock": threading.Lock()}


def _writer(directory):
    path = os.path.join(directory, f"writes-{os.getpid()}")
    while True:
        with open(path, "w") as file:
            file.write(str(_state["rows"]))
        time.sleep(0.5)


def _count(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    verb = sql.lstrip()[:6].upper()
    if verb in ("INSERT", "UPDATE", "DELETE"):
        rowcount = context["cursor"].rowcount
        if rowcount and rowcount > 0:
            with _state["lock"]:
                _state["rows"] += rowcount
    return result


def install(directory):
    def on_connection(sender, connection, **kwargs):
        if _state["pid"] != os.getpid():
            _state["pid"], _state["rows"] = os.getpid(), 0
            threading.Thread(target=_writer, args=(directory,), daemon=True).start()
        if _count not in connection.execute_wrappers:
            connection.execute_wrappers.append(_count)

    connection_created.connect(on_connection, weak=False)
