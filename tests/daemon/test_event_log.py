"""The event log on a real SQLite file: numbering across a restart, what the feed reads, and
its bound (past max_events the oldest go)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsengine.daemon import webhooks
from smsengine.daemon.outbox import Outbox
from smsengine.daemon.webhooks import (
    EventLog,
    WebhookConfig,
    WebhookSender,
    secret_key,
    shown_url,
    sign,
)


def _write(log: EventLog, outbox: Outbox) -> None:
    log.write()
    outbox.flush()  # (the outbox's commit commits the events too)
    log.committed()  # (as the gateway says after it)


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


def test_events_of_a_commit_that_failed_go_in_with_the_next(tmp_path: Path) -> None:
    """A commit that fails (a full disk, say) loses no event: the events, a webhook's cursor
    and its dead letters written into it are written again, under the same numbers, by the
    next; until then they are not served."""
    path = tmp_path / "o.db"
    with Outbox(path) as outbox, EventLog(path, record=["message.delivered"]) as log:
        log.add("message.delivered", 1000.0, None, {"n": 1})
        _write(log, outbox)
        log.add("message.delivered", 1001.0, None, {"n": 2})
        log.set_cursor("shop", 1)
        log.dead_letter("shop", log.after(0, 1)[0], 3, "HTTP 500", 1002.0)
        assert log.write()
        log._open().conn.rollback()  # (what a failed commit leaves: nothing of it)
        log.rolled_back()
        assert log.committed_seq == 1 and [e.seq for e in log.after(0, 10)[0]] == [1]
        log.add("message.delivered", 1003.0, None, {"n": 3})
        _write(log, outbox)
        events = log.after(0, 10)[0]
        assert [(e.seq, e.data) for e in events] == [(1, b'{"n":1}'), (2, b'{"n":2}'),
                                                     (3, b'{"n":3}')]
        assert log.cursor("shop") == 1
        assert [f["seq"] for f in log.failed("shop", 0, 10)] == [1]
    with EventLog(path, record=["message.delivered"]) as cold:  # (and in the file)
        assert [e.seq for e in cold.after(0, 10)[0]] == [1, 2, 3]


def test_a_webhooks_durable_cursor_never_passes_a_batch_still_owed(tmp_path: Path) -> None:
    """Batches finish out of order (a later one delivered while an earlier one is retried):
    the cursor kept in the file moves only over batches done in a row from the oldest, so a
    crash while the earlier one is retried sends it again. It once kept the number of the
    batch the move stopped at: a kill -9 then lost that batch (found by the webhook kill
    test, 2 to 11 of 5 000 reports missing)."""
    path = tmp_path / "o.db"
    config = WebhookConfig(name="shop", url="http://127.0.0.1:9/hook", batch=2)
    with Outbox(path) as outbox, EventLog(path, record=["message.delivered"]) as log:
        sender = WebhookSender(config, [], log, lambda: None, {})
        for n in range(6):
            log.add("message.delivered", 1000.0 + n, None, {"n": n})
        _write(log, outbox)
        batches = [sender._next_batch() for _ in range(3)]
        assert [(b[0].seq, b[-1].seq, key) for b, key in batches] == [(1, 2, 2), (3, 4, 4),
                                                                     (5, 6, 6)]
        sender._finished(2)  # the first delivered,
        sender._finished(6)  # the third too, while the second is still being retried
        _write(log, outbox)
        assert sender.cursor == 2 and log.cursor("shop") == 2
        sender._finished(4)  # the second at last: past all three
        _write(log, outbox)
        assert sender.cursor == 6 and log.cursor("shop") == 6
    with Outbox(path) as outbox, EventLog(path, record=["message.delivered"]) as log:
        assert log.cursor("shop") == 6


def test_a_webhooks_url_is_shown_without_its_token() -> None:
    """Receivers put tokens in a webhook URL's query or userinfo: a repr (what logs and
    errors may show) keeps the scheme, host and path only."""
    config = WebhookConfig(name="shop", secrets=[_SECRET],
                           url="https://bot:pa55@hooks.example:8443/sms/dlr?token=t0ken&x=1")
    shown = repr(config)
    assert "https://<redacted>@hooks.example:8443/sms/dlr?<redacted>" in shown
    for secret in ("pa55", "t0ken", _SECRET):
        assert secret not in shown
    assert shown_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"


_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
