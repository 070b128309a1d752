"""The outbox on a real SQLite file: ids, buffered writes committed together (or not at all),
the states a crash leaves and what recovery makes of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from smsengine.daemon.config import daemon_config_from_dict
from smsengine.daemon.gateway import Gateway
from smsengine.daemon.outbox import NewRow, Outbox, OutboxState, Request
from smsengine.daemon.webhooks import EventLog
from smsengine.engine import MessageState, MessageStatus
from smsengine.engine.sqlite import SqliteCorrelationStore, StoreError
from smsengine.engine.stores import CorrelationRecord


def _row(outbox: Outbox, to: str = "8613800138000", *, state: OutboxState = OutboxState.QUEUED,
         kind: str = "notification", seq: int | None = None) -> NewRow:
    return NewRow(seq=outbox.next_seq() if seq is None else seq, state=state, to=to, kind=kind,
                  out_id=None, channel=None, request=Request(text="hi"), parts=1,
                  ready=outbox.next_ready(), accepted_at=1000.0, send_at=None)


def test_ids_are_the_stores_own_and_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as outbox:
        rows = [_row(outbox) for _ in range(3)]
        outbox.insert(rows)
        outbox.flush()
        tag = outbox.tag
        assert [outbox.seq_of(outbox.id_of(r.seq)) for r in rows] == [1, 2, 3]
        assert outbox.seq_of("ffffffff-1") is None and outbox.seq_of(f"{tag}-x") is None
        outbox.set_state(3, OutboxState.DELIVERED, 1.0)
        outbox.flush()
        assert outbox.prune(1e12) == 1  # (final, past any retention)
    with Outbox(path) as outbox:
        assert outbox.tag == tag
        assert outbox.next_seq() == 4  # row 3 is gone, its number is not handed out again


def test_a_failed_commit_keeps_nothing_of_it(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        outbox.insert([_row(outbox)])
        outbox.flush()
        good = _row(outbox, "8613800138001")
        clash = _row(outbox, "8613800138002", seq=1)  # (row 1 exists: the batch fails)
        outbox.insert([good, clash])
        with pytest.raises(StoreError, match="commit failed"):
            outbox.flush()
        assert outbox.row(good.seq) is None and not outbox.dirty
        assert outbox.row(1) is not None  # what was committed before stays


def test_a_failed_write_of_another_store_in_the_file_abandons_the_commit(
        tmp_path: Path) -> None:
    """The event log's write fails before the outbox commits (Gateway._flush's order): the
    transaction, already holding the event rows and the engine's correlation record, is
    rolled back whole; the outbox drops its new rows (their requests are answered 503) and
    keeps its marks; the events go in with the next commit, under the same numbers, and the
    correlation record comes back from the file's journal."""
    path = tmp_path / "o.db"
    with Outbox(path) as outbox, EventLog(path, record=["message.delivered"]) as events, \
            SqliteCorrelationStore(path) as correlation:
        outbox.insert([_row(outbox)])
        outbox.flush()
        outbox.mark_sending(1, "main", 1000.0)
        new = _row(outbox, "8613800138001")
        outbox.insert([new])
        correlation.put(CorrelationRecord("main", "abc", "ref-1", 0, 1, 1000.0, 2000.0))
        events.add("message.delivered", 1000.0, None, {"id": "x"})
        clash = events.add("message.delivered", 1001.0, None, {"id": "y"})
        assert events.write()
        conn = events._open().conn
        conn.execute("INSERT INTO events VALUES (?, 0, 't', NULL, x'')", (clash + 1,))
        events.add("message.delivered", 1002.0, None, {"id": "z"})  # (its number is taken)
        with pytest.raises(sqlite3.IntegrityError):
            events.write()  # (what Gateway._flush meets, then does:)
        outbox.abandon()
        events.rolled_back()
        assert not conn.in_transaction
        assert outbox.row(new.seq) is None and outbox.row(1) is not None
        assert outbox.row(1).sent_at is None and outbox.dirty  # (the mark waits, buffered)
        events.add("message.delivered", 1003.0, None, {"id": "w"})
        events.write()
        outbox.flush()
        events.committed()
        assert outbox.row(1).sent_at == 1000.0
        assert [e.seq for e in events.after(0, 10)[0]] == [1, 2, 3, 4]
        assert correlation.pop("main", "abc") is not None


def test_a_full_disk_keeps_the_moves_of_accepted_messages_for_the_next_commit(
        tmp_path: Path) -> None:
    """The chaos runner's disk_full (issue 21): messages accepted before the disk filled went
    on to the carrier while commits failed; their moves were dropped with the failed commit,
    so their rows stayed queued (for the next start to send again), and the engine's
    correlation records with them (their receipts matched nothing: submitted for good). Now
    the new rows of the failed commit go (their request was answered 503), the moves stay for
    the next commit and the correlation records are written again (the file's journal)."""
    with Outbox(tmp_path / "o.db") as outbox, \
            SqliteCorrelationStore(tmp_path / "o.db") as correlation:
        sent = _row(outbox)
        outbox.insert([sent])
        outbox.flush()
        conn = outbox._open().conn  # a real SQLITE_FULL: the file may not grow
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        ref = outbox.id_of(sent.seq)
        outbox.mark_sending(sent.seq, "main", 1001.0)
        outbox.record(MessageStatus(ref=ref, state=MessageState.SUBMITTED, final=False,
                                    channel="main"))
        kept = CorrelationRecord("main", "smsc-0", "x-0", 0, 1, 1000.0, 9e9)
        correlation.put(kept)
        correlation.flush()
        record = CorrelationRecord("main", "smsc-1", ref, 0, 1, 1002.0, 9e9)
        correlation.put(record)
        assert correlation.pop("main", "smsc-0") == kept  # (its receipt came)
        refused = [_row(outbox, f"86138{i:08d}") for i in range(200)]
        outbox.insert(refused)
        with pytest.raises(StoreError, match="full"):
            outbox.flush()
        assert outbox.dirty  # the moves, still to write
        outbox.finish(ref, MessageState.DELIVERED, 1003.0)
        conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
        outbox.flush()
        got = outbox.row(sent.seq)
        assert got is not None and got.state is OutboxState.DELIVERED
        assert got.channel == "main" and got.sent_at == 1001.0 and got.done_at == 1003.0
        assert all(outbox.row(r.seq) is None for r in refused)
        assert not outbox.dirty
        assert correlation.pop("main", "smsc-0") is None  # (popped stays popped)
        assert correlation.pop("main", "smsc-1") == record
        assert len(correlation) == 0


async def test_the_wal_is_truncated_while_commits_never_pause(tmp_path: Path) -> None:
    """The checkpoint thread's PASSIVE checkpoint copies the WAL into the database, but only a
    writer whose transaction began with the WAL wholly copied starts it again from the top;
    under load the loop's connection always has one open (begun before the checkpoint ended),
    so the WAL grew without end: after the chaos runner's full disk, the backlog's commits
    filled the disk again with WAL (256 MB on 256 MiB), and the checkpoint, which needs room to
    grow the database, could never run again. Past Outbox.wal_limit, the loop's connection
    truncates it after its next commit."""
    path = tmp_path / "o.db"
    config = daemon_config_from_dict({
        "channels": [{"name": "main", "host": "127.0.0.1", "port": 9, "system_id": "shop",
                      "password": ""}],
        "store": {"path": str(path)}})
    gateway = Gateway(config)
    gateway._loop = asyncio.get_running_loop()
    with Outbox(path) as outbox:
        outbox.wal_limit = 256 << 10
        gateway.outbox = outbox
        sizes = []
        for _ in range(60):
            outbox.insert([_row(outbox, f"86138{n:08d}") for n in range(100)])
            # a transaction open on the loop's connection while the checkpoint runs, as under load
            outbox._open().begin().execute("SELECT count(*) FROM outbox").fetchone()
            await gateway._checkpoint()
            gateway.flush_now()
            sizes.append(os.path.getsize(f"{path}-wal"))
        rows = outbox._open().conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert rows == 6000
    assert max(sizes[10:]) < 2 * (256 << 10), sizes


async def test_a_commit_past_the_wal_limit_checkpoints_at_once(tmp_path: Path) -> None:
    """A second of backlog after a full disk was 30-50 MB of WAL on a tmpfs: with a checkpoint
    once a second a 48 MiB disk filled again with WAL and scenario 7 failed there. A commit
    that finds the WAL past the limit wakes the checkpoint; here commits go on for 0.5 s, less
    than the second between checkpoints, and the WAL is truncated all the same."""
    path = tmp_path / "o.db"
    config = daemon_config_from_dict({
        "channels": [{"name": "main", "host": "127.0.0.1", "port": 9, "system_id": "shop",
                      "password": ""}],
        "store": {"path": str(path)}})
    gateway = Gateway(config)
    gateway._loop = asyncio.get_running_loop()
    with Outbox(path) as outbox:
        outbox.wal_limit = 256 << 10
        gateway.outbox = outbox
        gateway._running = True
        checkpoints = gateway._loop.create_task(gateway._checkpoints())
        sizes = []
        for _ in range(50):
            outbox.insert([_row(outbox, f"86138{n:08d}") for n in range(100)])
            outbox._open().begin().execute("SELECT count(*) FROM outbox").fetchone()
            await asyncio.sleep(0.01)
            gateway.flush_now()
            sizes.append(os.path.getsize(f"{path}-wal"))
        gateway._running = False
        checkpoints.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checkpoints
    assert max(sizes[25:]) < 4 * (256 << 10), sizes


async def test_a_full_disk_is_logged_once_then_summed_up(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """During the chaos runner's disk_full the daemon logged an ERROR for every failed commit,
    up to 26 a second: now the first at once, then a summary at most every 10 s, and a line
    when commits work again; the store_errors counter still counts every one."""
    path = tmp_path / "o.db"
    config = daemon_config_from_dict({
        "channels": [{"name": "main", "host": "127.0.0.1", "port": 9, "system_id": "shop",
                      "password": ""}],
        "store": {"path": str(path)}})
    gateway = Gateway(config)
    gateway._loop = asyncio.get_running_loop()
    with Outbox(path) as outbox:
        gateway.outbox = outbox
        outbox.insert([_row(outbox)])
        outbox.flush()
        conn = outbox._open().conn  # a real SQLITE_FULL: the file may not grow
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with caplog.at_level(logging.INFO, logger="smsengine.daemon"):
            for _ in range(100):
                outbox.insert([_row(outbox, f"86138{n:08d}") for n in range(200)])
                gateway.flush_now()
            conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
            outbox.insert([_row(outbox, "8613900000000")])
            gateway.flush_now()
        assert gateway.counters["store_errors"] == 100
    lines = [r for r in caplog.records if "outbox commit" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], \
        [r.getMessage() for r in lines]
    assert "works again after 100 failures" in lines[1].getMessage()


def test_states_move_with_marks_and_statuses(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        row = _row(outbox)
        outbox.insert([row])
        outbox.mark_sending(row.seq, "main", 1001.0)
        outbox.flush()
        got = outbox.row(row.seq)
        assert got is not None and got.state is OutboxState.SENDING and got.channel == "main"
        assert got.sent_at == 1001.0
        ref = outbox.id_of(row.seq)
        outbox.record(MessageStatus(ref=ref, state=MessageState.SUBMITTED, final=False,
                                    channel="main"))
        assert outbox.get(ref) is not None  # (buffered, already visible)
        outbox.flush()
        outbox.update_part(ref, 0, MessageState.DELIVERED, "abc", 1003.0)
        outbox.finish(ref, MessageState.DELIVERED, 1003.0)
        outbox.flush()
        got = outbox.row(row.seq)
        assert got is not None and got.state is OutboxState.DELIVERED and got.done_at == 1003.0
        assert got.status is not None and got.status.parts[0].smsc_id == "abc"


@pytest.mark.parametrize("resend", [False, True])
def test_recovery_sends_what_never_left_and_never_resends_blindly(tmp_path: Path,
                                                                  resend: bool) -> None:
    config = daemon_config_from_dict({
        "channels": [{"name": "main", "host": "127.0.0.1", "port": 9, "system_id": "shop",
                      "password": "", "resend_unknown": resend}],
        "store": {"path": str(tmp_path / "o.db")}})
    with Outbox(config.store.path) as outbox:
        queued, sending, submitted = (_row(outbox, f"86138{n}") for n in range(3))
        outbox.insert([queued, sending, submitted])
        outbox.mark_sending(sending.seq, "main", 1.0)
        outbox.mark_sending(submitted.seq, "main", 1.0)
        outbox.record(MessageStatus(ref=outbox.id_of(submitted.seq),
                                    state=MessageState.SUBMITTED, final=False))
        outbox.flush()
    gateway = Gateway(config)
    gateway._loop = asyncio.new_event_loop()  # (only for its call_soon; never run)
    with Outbox(config.store.path) as outbox, EventLog(
            config.store.path, record=["message.unknown"]) as events:
        gateway.outbox, gateway.events = outbox, events
        gateway._recover()
        report = gateway.recovery
        after = {r.seq: r.state for r in outbox.page(limit=10)}
        told = [e.type for e in events.after(0, 10)[0]]
    gateway._loop.close()
    # An UNKNOWN made by the recovery is told like any other final state.
    assert told == ([] if resend else ["message.unknown"])
    assert after[submitted.seq] is OutboxState.SUBMITTED and report.awaiting_receipts == 1
    if resend:
        assert after[sending.seq] is OutboxState.QUEUED and report.resent == 1
        assert report.queued == 2 and report.unknown == 0
    else:
        assert after[sending.seq] is OutboxState.UNKNOWN and report.unknown == 1
        assert report.queued == 1 and report.resent == 0
    assert after[queued.seq] is OutboxState.QUEUED


def test_an_idempotency_fingerprint_is_keyed_by_the_api_key() -> None:
    # The store keeps a fingerprint of each body sent with an Idempotency-Key; a plain hash of
    # a body holding a 6-digit code would give the code away to whoever reads the file.
    import hashlib

    from smsengine.daemon.auth import Keyring
    from smsengine.daemon.config import ApiKeyConfig

    body = b'{"to": "8613800138000", "text": "code 402113"}'
    ring = Keyring({"key-one-0123456789": ApiKeyConfig(name="a"),
                    "key-two-0123456789": ApiKeyConfig(name="b")})
    one = ring.authenticate("Bearer key-one-0123456789").fingerprint(body)
    two = ring.authenticate("Bearer key-two-0123456789").fingerprint(body)
    assert one != two and hashlib.sha256(body).digest() not in (one, two)
    assert one == ring.authenticate("Bearer key-one-0123456789").fingerprint(body)
