"""Faults that repeat while something outside is down (the database, the broker), logged as an operator
wants them: one line when it starts, one a minute while it lasts, one when it is over.

A loop that retries every 50 ms would otherwise write a traceback per
attempt: thousands of lines a minute that hide what happened.
"""

import logging
import threading
import time

EVERY = 60.0


class Outage:
    """One recurring fault of one loop (``what``: "Dispatching", "Writing answers back", ...)."""

    def __init__(self, logger, what, every=EVERY):
        self.log = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        self.what = what
        self.every = every
        self.began = None
        self.last_logged = None
        self.failures = 0
        self.lock = threading.Lock()

    def failed(self, exc):
        """Note a failure; logs it if it is the first, or the first for ``every`` seconds."""
        now = time.monotonic()
        with self.lock:
            self.failures += 1
            if self.began is None:
                self.began = self.last_logged = now
                self.log.error("%s failed: %s; trying again (logged once a minute while it lasts).",
                               self.what, describe(exc))
            elif now - self.last_logged >= self.every:
                self.last_logged = now
                self.log.error("%s still failing after %.0f s (%d attempts): %s", self.what, now - self.began,
                               self.failures, describe(exc))

    def ok(self):
        """Note a success; logs that the fault is over if there was one."""
        if self.began is None:
            return
        with self.lock:
            if self.began is not None:
                self.log.warning("%s works again after %.1f s (%d failed attempts).", self.what,
                                 time.monotonic() - self.began, self.failures)
                self.began, self.failures = None, 0

    @property
    def ongoing(self):
        return self.began is not None


def describe(exc):
    """The exception's type and first line: enough to tell one outage from another, no stack."""
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0][:300]}" if text else exc.__class__.__name__
