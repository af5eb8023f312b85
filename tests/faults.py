"""Faults to inject into a real cluster: which processes are left, a database that goes away, a Redis that
stops.

    TcpRelay(("127.0.0.1", 5432))   # a TCP relay to PostgreSQL that can cut the line and mend it
    RedisServer()                   # a redis-server of the test's own, that can be stopped and paused
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def processes_in_group(pgid):
    """The live (not zombie) processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(predicate, timeout, message):
    """Poll ``predicate`` until it is true (returning its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)  # paces the checks of state that has no event to wait on (processes, rows)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TcpRelay:
    """Relays TCP connections from a local port to ``target``; cut() breaks every connection and refuses
    new ones (a database that went away), mend() lets them through again."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.sockets = set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        """Break every open connection and refuse new ones, until mend()."""
        self.up.clear()
        with self.lock:
            for sock in list(self.sockets):
                _close(sock)
            self.sockets.clear()

    def mend(self):
        self.up.set()

    def close(self):
        self.closed = True
        self.cut()
        _close(self.listener)

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                # Refused as a stopped server refuses: an immediate reset.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self.lock:
                self.sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.5)
                if not self.up.is_set():
                    break
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except OSError:
            pass
        finally:
            _close(a)
            _close(b)
            with self.lock:
                self.sockets.discard(a)
                self.sockets.discard(b)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class RedisServer:
    """A redis-server of the test's own on a free port, which keeps nothing on disk."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="integrations-redis-")
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, 10, "redis-server did not start")
        return self

    def stop(self):
        """Stop it as a crash would (what it held is gone)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def close(self):
        if self.process and self.process.poll() is None:
            self.resume()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
