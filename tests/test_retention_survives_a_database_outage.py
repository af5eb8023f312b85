"""The cluster's retention thread outlives the database going away: one line when it pauses, one when it
resumes, no traceback per attempt, and it goes on removing once the database answers."""

import logging
import threading

import pytest
from django.db import OperationalError

from runs import retention


@pytest.fixture
def quick(monkeypatch, settings):
    monkeypatch.setattr(retention, "FAULT_PAUSE", 0.01)
    monkeypatch.setattr(retention, "BUSY_PAUSE", 0.01)
    settings.INTEGRATIONS_RETENTION_INTERVAL = 0.01


@pytest.mark.django_db(transaction=True)
def test_an_outage_is_logged_once_and_its_end_once(quick, monkeypatch, caplog):
    stop = threading.Event()
    calls = []
    real_step = retention.Retention.step

    def step(self):
        calls.append(1)
        if len(calls) <= 20:
            raise OperationalError("could not connect to server: Connection refused")
        if len(calls) >= 23:
            stop.set()
        return real_step(self)

    monkeypatch.setattr(retention.Retention, "step", step)
    with caplog.at_level(logging.INFO, logger="runs.retention"):
        retention.retain_forever(stop)

    lines = [record for record in caplog.records if record.name == "runs.retention"]
    assert [record.getMessage() for record in lines] == [
        "Retention paused: OperationalError: could not connect to server: Connection refused",
        "Retention resumed.",
    ]
    assert not any(record.exc_info for record in lines)
    assert len(calls) >= 23


def test_a_fault_of_its_own_is_logged_once_with_its_traceback(quick, monkeypatch, caplog):
    stop = threading.Event()
    calls = []

    def step(self):
        calls.append(1)
        if len(calls) == 5:
            stop.set()
        raise KeyError("a bug")

    monkeypatch.setattr(retention.Retention, "step", step)
    with caplog.at_level(logging.INFO, logger="runs.retention"):
        retention.retain_forever(stop)

    lines = [record for record in caplog.records if record.name == "runs.retention"]
    assert len(lines) == 1 and lines[0].exc_info is not None
    assert len(calls) == 5
