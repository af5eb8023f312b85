"""Puts this Python process on a host whose wall clock is off by INTEGRATIONS_TEST_CLOCK_SKEW seconds.

Started with PYTHONPATH=tests/skewed_clock (tests/test_one_clock_for_every_host.py): every reading of the
wall clock through the standard library (time.time(), datetime.now(), and so Django's timezone.now()) is
skewed; monotonic clocks are not, as on a real host whose clock is set wrong. (libfaketime would do it
below Python, but its 0.9.10 breaks Python's sleeps.)
"""

import datetime as _datetime
import os
import time as _time

_skew = float(os.environ.get("INTEGRATIONS_TEST_CLOCK_SKEW", "0"))

if _skew:
    _real_time, _real_time_ns = _time.time, _time.time_ns
    _time.time = lambda: _real_time() + _skew
    _time.time_ns = lambda: _real_time_ns() + int(_skew * 1e9)

    class _SkewedDatetime(_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return super().now(tz) + _datetime.timedelta(seconds=_skew)

        @classmethod
        def utcnow(cls):
            return super().utcnow() + _datetime.timedelta(seconds=_skew)

        @classmethod
        def today(cls):
            return cls.now()

    _datetime.datetime = _SkewedDatetime
