"""The event log on a real SQLite file: numbering across a restart, what the feed reads, and
its bound (past max_events the oldest go)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsengine.daemon import webhooks
from smsengine.daemon.outbox import Outbox
from smsengine.daemon.webhooks import EventLog, secret_key, sign


def _write(log: EventLog, outbox: Outbox) -> None:
    log.write()
    outbox.flush()  # (the outbox's commit commits the events too)


def test_events_are_numbered_kept_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as outbox, EventLog(path, record=["message.delivered"]) as log:
        assert log.wants("message.delivered") and not log.wants("mo.received")
        for n in range(10):
            log.add("message.delivered", 1000.0 + n, "shop" if n % 2 else None, {"n": n})
        assert log.after(0, 100)[0] == []  # (not committed yet: not served)
        _write(log, outbox)
        events, read = log.after(0, 4)
        assert [e.seq for e in events] == [1, 2, 3, 4] and read == 4
        assert events[0].envelope().startswith(b'{"id":"evt_1","type":"message.delivered"')
        assert log.prune(keep_after=3, before=2000.0, max_events=1_000) == 3
        assert log.prune(keep_after=10, before=0.0, max_events=5) == 2  # (over the cap)
        _write(log, outbox)
        assert [e.seq for e in log.after(0, 100)[0]] == [6, 7, 8, 9, 10]
    with Outbox(path) as outbox, EventLog(path, record=["message.delivered"]) as log:
        assert log.add("message.delivered", 2000.0, None, {}) == 11  # numbering goes on


def test_signatures_are_standard_webhooks() -> None:
    key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    # The example of the Standard Webhooks specification's reference implementation.
    body = b'{"test": 2432232314}'
    assert sign([key], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_recent_events_are_read_from_memory_exactly_as_from_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caught-up readers are served the last events from memory: every read (any cursor,
    limit and type filter, across the memory's trimming and pruning) gives what a reader of
    the file alone gives."""
    monkeypatch.setattr(webhooks, "RECENT_EVENTS", 4)  # (memory keeps 4 to 8 events)
    path = tmp_path / "o.db"
    kinds = ["message.delivered", "mo.received", "message.failed"]

    def same(log: EventLog, types: list[str] | None = None) -> int:
        with EventLog(path, record=kinds) as cold:  # (a fresh log: nothing in memory)
            served = 0
            for seq in range(log.committed_seq + 2):
                for limit in (1, 3, 100):
                    mine, theirs = log.after(seq, limit, types=types), cold.after(
                        seq, limit, types=types)
                    assert mine == theirs, (seq, limit, types)
                    served += seq + 1 >= log._recent_first and bool(mine[0])
            return served

    with Outbox(path) as outbox, EventLog(path, record=kinds) as log:
        n = 0
        for burst in (1, 5, 2, 9, 3):
            for _ in range(burst):
                log.add(kinds[n % 3], 1000.0 + n, None, {"n": n})
                n += 1
            _write(log, outbox)
            assert same(log) > 0 and same(log, ["message.*"]) > 0
            assert len(log._recent) <= 2 * webhooks.RECENT_EVENTS
        assert log.prune(keep_after=15, before=2000.0, max_events=1_000) == 15
        _write(log, outbox)
        assert [e.seq for e in log.after(0, 100)[0]] == [16, 17, 18, 19, 20]
        same(log)
        assert log.prune(keep_after=0, before=0.0, max_events=2) == 3
        _write(log, outbox)
        assert [e.seq for e in log.after(0, 100)[0]] == [19, 20]
        same(log)
