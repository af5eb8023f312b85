"""Counts rows written (INSERT/UPDATE/DELETE) and requests sent by every process of a benchmarked cluster.

Imported by bench/workers.py before Django starts: each database connection
gets an execute wrapper and the engine's send is wrapped; each process
writes its totals to DIR/writes-PID and DIR/sends-CLUSTER-PID twice a second.
"""

import os
import threading
import time

from django.db.backends.signals import connection_created

_state = {"pid": None, "rows": 0, "sends": 0, "lock": threading.Lock()}


def _writer(directory):
    cluster = os.getpgid(0)
    rows_path = os.path.join(directory, f"writes-{os.getpid()}")
    sends_path = os.path.join(directory, f"sends-{cluster}-{os.getpid()}")
    while True:
        with open(rows_path, "w") as file:
            file.write(str(_state["rows"]))
        with open(sends_path, "w") as file:
            file.write(str(_state["sends"]))
        time.sleep(0.5)


def _start(directory):
    if _state["pid"] != os.getpid():
        _state["pid"], _state["rows"], _state["sends"] = os.getpid(), 0, 0
        threading.Thread(target=_writer, args=(directory,), daemon=True).start()


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
    from runs import batch

    def on_connection(sender, connection, **kwargs):
        _start(directory)
        if _count not in connection.execute_wrappers:
            connection.execute_wrappers.append(_count)

    connection_created.connect(on_connection, weak=False)
    timed_send = batch.timed_send

    def counted_send(outbound):
        _start(directory)
        with _state["lock"]:
            _state["sends"] += 1
        return timed_send(outbound)

    batch.timed_send = counted_send
