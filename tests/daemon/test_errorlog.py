"""RepeatedFailure: the first failure at once, then a summary at most every interval, one line
when it works again; the time is given, nothing sleeps."""

from __future__ import annotations

import logging

import pytest

from smsengine.daemon._errorlog import RepeatedFailure


def test_a_burst_is_logged_first_then_summed_up(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.errorlog")
    burst = RepeatedFailure(log, "outbox commit", interval=10.0)
    with caplog.at_level(logging.INFO, logger="test.errorlog"):
        for i in range(260):  # 26 a second for 10 s
            burst.failed(100.0 + i / 26, "disk full")
        assert [r.levelno for r in caplog.records] == [logging.ERROR]
        assert "outbox commit failed: disk full" in caplog.records[0].getMessage()
        burst.failed(110.0, "disk full")
        assert len(caplog.records) == 2
        assert "failed 260 more times in 10 s, 261 since 10 s ago" in caplog.records[1].message
        burst.failed(111.0, "disk full")
        burst.succeeded(112.0)
        burst.succeeded(113.0)  # (once)
        assert len(caplog.records) == 3
        last = caplog.records[2]
        assert last.levelno == logging.WARNING
        assert "works again after 262 failures in 12.0 s (1 not logged" in last.getMessage()
        burst.failed(200.0, "disk full")  # a new outage is logged at once again
        assert len(caplog.records) == 4 and caplog.records[3].levelno == logging.ERROR
    assert burst.failures == 1
