"""How a runworkers process group stops: the parent alone decides, its children follow and never outlive it.

A supervisor stops a service in one of several ways: SIGTERM to the whole
process group (systemd's KillMode=control-group, docker stop on a shell),
SIGTERM or SIGINT to the main process only, Ctrl-C in a terminal. django-q2's
processes each react to signals on their own (its sentinel dies on SIGTERM
inside a shared lock, and the parent then waits for it forever), so here every
process the cluster forks blocks SIGTERM and SIGINT: whatever the signal and
whoever gets it, only the parent acts. It gives the group a deadline (the
grace period), the workers finish what they have in flight by then and write
it back, and whatever is left at the deadline is killed.

A child also dies with its parent (Linux's parent-death signal, or a thread
that watches the parent elsewhere): a worker whose cluster is gone can do no
good, only take tasks it cannot finish.
"""

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1

_deadline = None  # a shared double: 0 while running, the stop deadline (time.monotonic()) once stopping
_forking_pid = None


def prepare():
    """In the runworkers parent, before the cluster forks: shared stop state, and what every child does
    first."""
    global _deadline
    _deadline = multiprocessing.get_context("fork").Value("d", 0.0, lock=False)
    os.register_at_fork(before=_before_fork, after_in_child=_in_child)


def begin_stop(grace):
    """Tell every process of the group to stop within ``grace`` seconds; returns the deadline (monotonic)."""
    deadline = time.monotonic() + grace
    if _deadline is not None:
        if _deadline.value:
            return _deadline.value
        _deadline.value = deadline
    return deadline


def stopping():
    """True once the group is stopping: take no new work, hand back what is not yet sent."""
    return _deadline is not None and _deadline.value > 0


def remaining(margin=0.0):
    """Seconds left before the stop deadline, less ``margin`` (None while not stopping; never negative)."""
    if not stopping():
        return None
    return max(_deadline.value - margin - time.monotonic(), 0.0)


def _before_fork():
    global _forking_pid
    _forking_pid = os.getpid()


def _in_child():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    parent = _forking_pid
    if not _die_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    if os.getppid() != parent:  # it died before the parent-death signal was set
        os._exit(1)


def _die_with_parent():
    """Ask the kernel to kill this process when its parent ends (Linux); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except OSError:
        return False


def _watch_parent(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
