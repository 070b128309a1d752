"""The durable outbox: every message the daemon accepted, its state with a timestamp per
transition, and the Idempotency-Key answers, in the engine's SQLite file (WAL).

It shares the file's one connection and open transaction with the engine's correlation store
(:data:`~smsengine.engine.sqlite.SharedFileStore`), so a part's carrier id and its correlation
record commit together. Writes are buffered and go in at :meth:`Outbox.flush`, once per loop
tick (the gateway schedules it) and before any part can leave (the engine's
:meth:`~smsengine.engine.Engine.before_write` hook): when a process dies, the file says of
every message either that it cannot have left (``queued``: send it), or that it may have
(``sending``: its outcome is unknown), or what the carrier said.

A message's row goes ``scheduled`` -> ``queued`` -> ``sending`` -> ``submitted`` -> a final
state (or ``queued``/``scheduled`` -> ``cancelled``). ``sending`` is not stored as a state but as
``sent_at`` on a queued row: marking a burst of messages then writes only their rows' pages,
not the state index's (the mark is the one write made before any byte may leave).

A message's id is the store's tag and its row number (``<tag>-<seq>``): unique for the file's
life (AUTOINCREMENT never reuses one), and the engine's ref of the message, so receipts after a
restart come back under it.

Everything here is synchronous and runs on the event loop thread.
"""

from __future__ import annotations

import functools
import itertools
import os
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..engine import DeliveryFailure, MessageState, MessageStatus, PartStatus
from ..engine.sqlite import SharedFileStore, StoreError

__all__ = ["STATE_NAMES", "Outbox", "OutboxState", "Row", "parse_id"]


class OutboxState(IntEnum):
    SCHEDULED = 0
    QUEUED = 1
    SENDING = 2
    SUBMITTED = 3
    DELIVERED = 4
    UNDELIVERABLE = 5
    EXPIRED = 6
    REJECTED = 7
    FAILED = 8
    UNKNOWN = 9
    CANCELLED = 10

    @property
    def final(self) -> bool:
        return self >= OutboxState.DELIVERED


STATE_NAMES: dict[OutboxState, str] = {s: s.name.lower() for s in OutboxState}
BY_NAME: dict[str, OutboxState] = {n: s for s, n in STATE_NAMES.items()}
FROM_ENGINE: dict[MessageState, OutboxState] = {
    MessageState.QUEUED: OutboxState.QUEUED,
    MessageState.SENDING: OutboxState.SENDING,
    MessageState.SUBMITTED: OutboxState.SUBMITTED,
    MessageState.DELIVERED: OutboxState.DELIVERED,
    MessageState.UNDELIVERABLE: OutboxState.UNDELIVERABLE,
    MessageState.EXPIRED: OutboxState.EXPIRED,
    MessageState.REJECTED: OutboxState.REJECTED,
    MessageState.FAILED: OutboxState.FAILED,
    MessageState.UNKNOWN: OutboxState.UNKNOWN,
    MessageState.CANCELLED: OutboxState.CANCELLED,
}
_OPEN_STATES = (OutboxState.SCHEDULED, OutboxState.QUEUED, OutboxState.SENDING,
                OutboxState.SUBMITTED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    state       INTEGER NOT NULL,
    to_number   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    out_id      TEXT,
    channel     TEXT,            -- asked for, then the one it was handed to
    request     BLOB NOT NULL,   -- the message as accepted (Request, msgspec JSON)
    parts       INTEGER NOT NULL,
    ready       INTEGER,         -- feed order while queued (NULL otherwise)
    accepted_at REAL NOT NULL,
    send_at     REAL,
    sent_at     REAL,            -- a part handed to a carrier link (state stays 1 until submitted)
    done_at     REAL,
    status      BLOB,            -- the engine's MessageStatus (msgspec JSON), from submitted on
    campaign    INTEGER          -- the campaign it belongs to (fed by the campaign's runner)
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE INDEX IF NOT EXISTS outbox_to ON outbox (to_number, seq);
CREATE INDEX IF NOT EXISTS outbox_out_id ON outbox (out_id, seq) WHERE out_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_backlog ON outbox (kind, ready) WHERE state = 1;
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (send_at) WHERE state = 0;
CREATE INDEX IF NOT EXISTS outbox_campaign ON outbox (campaign, state)
    WHERE campaign IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency (
    principal   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    code        INTEGER NOT NULL,
    response    BLOB NOT NULL,
    at          REAL NOT NULL,
    PRIMARY KEY (principal, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at);
"""

_COLUMNS = ("seq, state, to_number, kind, out_id, channel, request, parts, ready, accepted_at, "
            "send_at, sent_at, done_at, status, campaign")
_INSERT = (f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, "
           "?)")
_INSERT_ROWS = 50  # rows per INSERT statement (14 parameters each: 700 < SQLite's least limit)


@functools.lru_cache(maxsize=_INSERT_ROWS)
def _insert_statement(rows: int) -> str:
    head, _, values = _INSERT.partition(" VALUES ")
    return head + " VALUES " + ", ".join([values] * rows)


def _insert_many(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """``executemany(_INSERT, rows)``, several rows a statement: a statement's own cost (and
    AUTOINCREMENT's sqlite_sequence write) once per 50 rows, not per row."""
    whole = len(rows) - len(rows) % _INSERT_ROWS
    if whole:
        chain = itertools.chain.from_iterable
        conn.executemany(_insert_statement(_INSERT_ROWS), [
            tuple(chain(rows[i:i + _INSERT_ROWS])) for i in range(0, whole, _INSERT_ROWS)])
    if whole < len(rows):
        conn.execute(_insert_statement(len(rows) - whole),
                     tuple(itertools.chain.from_iterable(rows[whole:])))


_SENDING = "UPDATE outbox SET sent_at = ?, channel = ? WHERE seq = ? AND sent_at IS NULL"
_STATUS = ("UPDATE outbox SET state = ?, ready = NULL, done_at = ?, status = ?, "
           "channel = coalesce(?, channel) WHERE seq = ?")
_GOING = "UPDATE outbox SET state = ?, ready = NULL, channel = coalesce(?, channel) WHERE seq = ?"
_GET = f"SELECT {_COLUMNS} FROM outbox WHERE seq = ?"


class Request(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the caller asked for, as kept in the row (to, kind, out_id have columns)."""

    text: str
    source: str | None = None
    validity: float | None = None
    metadata: dict[str, Any] | None = None
    principal: str | None = None  # the API key (its name) that sent it
    template: str | None = None  # the template it was rendered from, and its version
    version: int | None = None
    # ``text`` has its secret params masked (******): the real text was kept in memory only,
    # until the message was handed to the engine; a row like this is never sent from the store.
    masked: bool = False


class NewRow(msgspec.Struct, frozen=True, kw_only=True):
    """A message to insert: what :meth:`Outbox.insert` takes."""

    seq: int
    state: OutboxState
    to: str
    kind: str
    out_id: str | None
    channel: str | None
    request: Request
    parts: int
    ready: int | None
    accepted_at: float
    send_at: float | None
    campaign: int | None = None


class Row(NewRow, frozen=True, kw_only=True):
    """One message as the outbox keeps it: what was inserted, and what became of it."""

    id: str
    sent_at: float | None
    done_at: float | None
    status: MessageStatus | None


def parse_id(tag: str, message_id: str) -> int | None:
    """The row number in an id of this store, or None if it is not one."""
    head, _, tail = message_id.partition("-")
    if head != tag or not tail.isdigit() or not tail.isascii() or len(tail) > 18:
        return None
    return int(tail)


Synchronous = Literal["off", "normal", "full"]


class Outbox(SharedFileStore):
    """See the module docstring. Also the engine's
    :class:`~smsengine.engine.status.StatusStore` (``Engine(statuses=outbox)``)."""

    #: The WAL's size past which the gateway has the loop truncate it (truncate_wal).
    wal_limit = 4 << 20

    #: The gateway records every move itself (Gateway._observe): the engine only reads
    #: statuses from the outbox (see StatusStore).
    self_recording = True

    def __init__(self, path: str | Path, *, synchronous: Synchronous = "normal",
                 retention: float = 7 * 86400.0) -> None:
        super().__init__(path)
        self.retention = retention
        db = self._open()
        conn = db.conn
        try:
            db.commit()
            conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            # No checkpoint from a commit on this (the event loop's) connection: a checkpoint
            # fsyncs, 5-9 ms measured here, a stall for every request in flight. The gateway
            # runs them from a thread instead (checkpoint()).
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if "outbox_campaign" in statement:
                    # (a file from before campaigns: the column goes in first)
                    columns = {r[1] for r in conn.execute("PRAGMA table_info(outbox)")}
                    if "campaign" not in columns:
                        conn.execute("ALTER TABLE outbox ADD COLUMN campaign INTEGER")
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM outbox_meta WHERE key = 'tag'").fetchone()
            if row is None:
                self.tag = secrets.token_hex(4)
                conn.execute("INSERT INTO outbox_meta VALUES ('tag', ?)", (self.tag,))
            else:
                self.tag = str(row[0])
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(str(path), f"cannot hold the outbox ({exc})") from exc
        self._encode = msgspec.json.Encoder().encode
        self._status_decode = msgspec.json.Decoder(MessageStatus).decode
        self._request_decode = msgspec.json.Decoder(Request).decode
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        #: The last row number handed out (rows are numbered here, so that a message's id is
        #: known before it is written).
        self.last_seq = int(row[0]) if row else 0
        row = conn.execute("SELECT max(ready) FROM outbox WHERE state = 1").fetchone()
        self.last_ready = max(int(row[0] or 0), self.last_seq)
        # Buffered writes, in by flush(): rows to insert, ``sending`` marks, statuses.
        self._inserts: list[tuple[Any, ...]] = []
        self._idempotency: list[tuple[Any, ...]] = []
        self._sending: dict[int, tuple[float, str]] = {}
        self._statuses: dict[int, MessageStatus] = {}

    # --- ids -----------------------------------------------------------------------------------

    def id_of(self, seq: int) -> str:
        return f"{self.tag}-{seq}"

    def seq_of(self, message_id: str) -> int | None:
        return parse_id(self.tag, message_id)

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    def next_ready(self) -> int:
        self.last_ready += 1
        return self.last_ready

    # --- writes (buffered) ---------------------------------------------------------------------

    def insert(self, rows: Iterable[NewRow]) -> None:
        encode = self._encode
        self._inserts.extend(
            (r.seq, int(r.state), r.to, r.kind, r.out_id, r.channel, encode(r.request), r.parts,
             r.ready, r.accepted_at, r.send_at, None, None, r.campaign) for r in rows)

    def encode_request(self, request: Request) -> bytes:
        """The request column as :meth:`insert` writes it."""
        return self._encode(request)

    def insert_encoded(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows already as :meth:`insert` makes them (its column order, the request encoded
        by :meth:`encode_request`): for a campaign's chunk, without a NewRow each."""
        self._inserts.extend(rows)

    def remember(self, principal: str, key: str, fingerprint: bytes, code: int,
                 response: bytes, at: float) -> None:
        """An Idempotency-Key's first answer, committed with the messages it accepted."""
        self._idempotency.append((principal, key, fingerprint, code, response, at))

    def mark_sending(self, seq: int, channel: str, at: float) -> None:
        """A part of the message was handed to a carrier link: it may have left."""
        self._sending[seq] = (at, channel)

    def set_status(self, seq: int, status: MessageStatus) -> None:
        self._statuses[seq] = status

    @property
    def dirty(self) -> bool:
        return bool(self._inserts or self._idempotency or self._sending or self._statuses)

    def flush(self) -> None:
        """Write what is buffered and commit (with the engine's correlation records). If that
        fails, the transaction is rolled back and StoreError raised: the new rows and
        Idempotency-Key answers are dropped, so a request answered 503 was not accepted; the
        marks and states (what already happened to accepted messages) are kept for the next
        flush, else a message sent while the disk was full would stay queued in the file, and
        be sent again by the next start (the chaos runner's disk_full, issue 21). The engine's
        correlation records since the last commit are lost with it: after a restart their
        receipts will find nothing."""
        db = self._open()
        conn = db.begin()
        inserts, self._inserts = self._inserts, []
        keys, self._idempotency = self._idempotency, []
        sending, self._sending = self._sending, {}
        statuses, self._statuses = self._statuses, {}
        try:
            if inserts:
                _insert_many(conn, inserts)
            if keys:
                conn.executemany("INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                                 keys)
            if sending:
                conn.executemany(_SENDING, [(at, channel, seq) for seq, (at, channel)
                                            in sending.items()])
            if statuses:
                # A message still on its way (submitted, awaiting its receipts) has only its
                # state written, which is what a recovery needs; its status (parts, SMSC ids)
                # is written when it ends: the encode and the blob were a tenth of the
                # daemon's CPU at 10 000 messages a second, half of them for this.
                encode = self._encode
                final = [(int(FROM_ENGINE[s.state]), s.done_at, encode(s), s.channel or None, seq)
                         for seq, s in statuses.items() if s.final]
                going = [(int(FROM_ENGINE[s.state]), s.channel or None, seq)
                         for seq, s in statuses.items() if not s.final]
                if final:
                    conn.executemany(_STATUS, final)
                if going:
                    conn.executemany(_GOING, going)
            db.commit()
        except sqlite3.Error as exc:
            # (nothing was buffered since: the dicts are empty unless flush is reentered)
            self._sending = {**sending, **self._sending}
            self._statuses = {**statuses, **self._statuses}
            self.abandon()
            raise StoreError(self.path, f"commit failed ({exc})") from exc

    def abandon(self) -> None:
        """The open transaction will not commit (this store's write or another's in the same
        file failed): roll it back. The new rows and Idempotency-Key answers buffered for it
        are dropped (their requests are answered 503, so they were not accepted); the marks
        and states stay buffered for the next flush."""
        db = self._open()
        if db.conn.in_transaction:
            db.conn.rollback()
        db.pending = 0
        self._inserts = []
        self._idempotency = []

    # --- the engine's StatusStore --------------------------------------------------------------

    def record(self, status: MessageStatus) -> None:
        seq = self.seq_of(status.ref)
        if seq is not None:
            self._statuses[seq] = status

    def update_part(self, ref: str, index: int, state: MessageState, smsc_id: str,
                    at: float, reason: DeliveryFailure | None = None) -> None:
        seq = self.seq_of(ref)
        if seq is None:
            return
        status = self.get(ref) or MessageStatus(ref=ref, state=MessageState.SUBMITTED,
                                                final=False)
        parts = {p.index: p for p in status.parts}
        old = parts.get(index)
        parts[index] = PartStatus(index=index, smsc_id=smsc_id or (old.smsc_id if old else ""),
                                  state=state, submitted_at=old.submitted_at if old else None,
                                  done_at=at)
        self._statuses[seq] = msgspec.structs.replace(
            status, parts=tuple(parts[i] for i in sorted(parts)),
            reason=status.reason if status.reason is not None else reason)

    def finish(self, ref: str, state: MessageState, at: float) -> None:
        seq = self.seq_of(ref)
        if seq is None:
            return
        status = self.get(ref) or MessageStatus(ref=ref, state=state, final=True)
        self._statuses[seq] = msgspec.structs.replace(status, state=state, final=True,
                                                      done_at=at)

    def get(self, ref: str) -> MessageStatus | None:
        seq = self.seq_of(ref)
        if seq is None:
            return None
        pending = self._statuses.get(seq)
        if pending is not None:
            return pending
        row = self.row(seq)
        if row is None:
            return None
        return row.status or MessageStatus(
            ref=ref, destination=row.to, kind=row.kind, channel=row.channel or "",
            state=_ENGINE_STATE.get(row.state, MessageState.QUEUED), final=row.state.final,
            queued_at=row.accepted_at, done_at=row.done_at)

    def by_reference(self, reference: str) -> MessageStatus | None:
        return None  # (the daemon sets no engine reference; out_id is queried with page())

    def prune(self, now: float) -> int:
        """Final messages past the retention, and Idempotency-Key answers past theirs (the
        gateway passes the key TTL as ``retention`` of the second)."""
        db = self._open()
        conn = db.begin()
        # (oldest rows first, by the primary key: no index on done_at to keep up)
        gone = conn.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE done_at IS NOT NULL "
            "AND done_at < ? ORDER BY seq LIMIT 10000)", (now - self.retention,)).rowcount
        db.commit()
        return int(gone)

    def prune_keys(self, before: float) -> int:
        db = self._open()
        gone = db.begin().execute("DELETE FROM idempotency WHERE at < ?", (before,)).rowcount
        db.commit()
        return int(gone)

    # --- reads ---------------------------------------------------------------------------------

    def _row(self, values: Sequence[Any]) -> Row:
        (seq, state, to, kind, out_id, channel, request, parts, ready, accepted_at, send_at,
         sent_at, done_at, status, campaign) = values
        if state == 1 and sent_at is not None:
            state = OutboxState.SENDING
        return Row(seq=seq, id=self.id_of(seq), state=OutboxState(state), to=to, kind=kind,
                   out_id=out_id, channel=channel, request=self._request_decode(request),
                   parts=parts, ready=ready, accepted_at=accepted_at, send_at=send_at,
                   sent_at=sent_at, done_at=done_at,
                   status=self._status_decode(status) if status is not None else None,
                   campaign=campaign)

    def row(self, seq: int) -> Row | None:
        """A message as written so far (what is still buffered is not in it)."""
        found = self._open().conn.execute(_GET, (seq,)).fetchone()
        return None if found is None else self._row(found)

    def pending_status(self, seq: int) -> MessageStatus | None:
        return self._statuses.get(seq)

    def page(self, *, to: str | None = None, out_id: str | None = None,
             state: OutboxState | None = None, since: float | None = None,
             until: float | None = None, before: int | None = None,
             limit: int = 100) -> list[Row]:
        """Messages matching every filter given, newest first, at most ``limit``, with row
        numbers below ``before`` (the cursor). Each filter has an index; SQLite picks one."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("to_number", to), ("out_id", out_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if state is not None:
            where.append(_STATE_WHERE.get(state, "state = ?"))
            if state not in _STATE_WHERE:
                args.append(int(state))
        # Rows are numbered in acceptance order, so a time range is a row range, found by
        # bisection on the primary key (no index on accepted_at to keep up at every insert).
        if since is not None:
            where.append("seq >= ?")
            args.append(self._first_at(since))
        if until is not None:
            where.append("seq < ?")
            args.append(self._first_at(until))
        if before is not None:
            where.append("seq < ?")
            args.append(before)
        sql = f"SELECT {_COLUMNS} FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        return [self._row(r) for r in self._open().conn.execute(sql, args)]

    def _first_at(self, at: float) -> int:
        """The first row accepted at or after ``at`` (one past the last row if none)."""
        conn = self._open().conn
        low, high = 1, self.last_seq + 1
        while low < high:
            mid = (low + high) // 2
            found = conn.execute("SELECT seq, accepted_at FROM outbox WHERE seq >= ? "
                                 "ORDER BY seq LIMIT 1", (mid,)).fetchone()
            if found is None or found[1] >= at:
                high = mid
            else:
                low = int(found[0]) + 1
        return low

    def backlog(self, kind: str, after: int, limit: int) -> list[Row]:
        """Queued messages of ``kind`` not yet handed to the engine: feed order after
        ``after``."""
        rows = self._open().conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = 1 AND kind = ? AND ready > ? "
            "ORDER BY ready LIMIT ?", (kind, after, limit))
        return [self._row(r) for r in rows]

    def backlog_counts(self) -> dict[str, int]:
        rows = self._open().conn.execute(
            "SELECT kind, count(*) FROM outbox WHERE state = 1 AND sent_at IS NULL "
            "AND ready IS NOT NULL GROUP BY kind")
        return {kind: int(n) for kind, n in rows}

    def open_count(self) -> int:
        """Messages not final (scheduled, queued, sending, submitted)."""
        row = self._open().conn.execute(
            "SELECT count(*) FROM outbox WHERE state IN (0, 1, 2, 3)").fetchone()
        return int(row[0])

    def scheduled_count(self) -> int:
        """Scheduled messages (the partial index outbox_due holds just these)."""
        row = self._open().conn.execute(
            "SELECT count(*) FROM outbox WHERE state = 0 AND send_at IS NOT NULL").fetchone()
        return int(row[0])

    def due(self, now: float, limit: int = 10_000) -> list[tuple[int, str]]:
        """Scheduled messages whose time has come: (seq, kind), soonest first."""
        rows = self._open().conn.execute(
            "SELECT seq, kind FROM outbox WHERE state = 0 AND send_at <= ? ORDER BY send_at "
            "LIMIT ?", (now, limit))
        return [(int(seq), str(kind)) for seq, kind in rows]

    def release(self, released: list[tuple[int, int]]) -> None:
        """Scheduled messages become queued, with the feed order given: (seq, ready)."""
        db = self._open()
        db.begin().executemany("UPDATE outbox SET state = 1, ready = ? WHERE seq = ? AND "
                               "state = 0", [(ready, seq) for seq, ready in released])

    def set_state(self, seq: int, state: OutboxState, at: float,
                  status: MessageStatus | None = None, *, only_from: Iterable[OutboxState] = (),
                  ready: int | None = None) -> bool:
        """Move a row now (written at once, committed at the next flush): a cancel, a refusal
        when fed, a recovery. ``only_from``: only if it is in one of these states."""
        db = self._open()
        # (queued again: no longer marked as sent)
        sent = ", sent_at = NULL" if state is OutboxState.QUEUED else ""
        sql = ("UPDATE outbox SET state = ?, ready = ?, done_at = ?, "
               f"status = coalesce(?, status){sent} WHERE seq = ?")
        args: list[Any] = [int(state), ready, at if state.final else None,
                           self._encode(status) if status is not None else None, seq]
        allowed = [int(s) for s in only_from]
        if allowed:
            sql += f" AND state IN ({', '.join('?' * len(allowed))})"
            args.extend(allowed)
        return bool(db.begin().execute(sql, args).rowcount)

    def in_state(self, state: OutboxState) -> list[Row]:
        where = _STATE_WHERE.get(state, "state = ?")
        rows = self._open().conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE {where} ORDER BY seq",
            () if state in _STATE_WHERE else (int(state),))
        return [self._row(r) for r in rows]

    def idempotent(self, principal: str, key: str) -> tuple[bytes, int, bytes] | None:
        """An Idempotency-Key's first answer: (fingerprint, status code, body)."""
        for principal_, key_, fingerprint, code, response, _ in self._idempotency:
            if principal_ == principal and key_ == key:
                return fingerprint, code, response
        row = self._open().conn.execute(
            "SELECT fingerprint, code, response FROM idempotency WHERE principal = ? AND "
            "key = ?", (principal, key)).fetchone()
        return None if row is None else (bytes(row[0]), int(row[1]), bytes(row[2]))

    def suppressions(self, after: str, limit: int,
                     prefix: str = "") -> list[tuple[str, str, float]]:
        """The engine's opt-out list (its table in this file), by number after ``after``; with
        ``prefix`` (digits), the numbers starting with it (a range of the key: ':' follows '9')."""
        if prefix:
            rows = self._open().conn.execute(
                "SELECT number, reason, at FROM suppression WHERE number > ? AND number >= ? "
                "AND number < ? ORDER BY number LIMIT ?", (after, prefix, prefix + ":", limit))
        else:
            rows = self._open().conn.execute(
                "SELECT number, reason, at FROM suppression WHERE number > ? ORDER BY number "
                "LIMIT ?", (after, limit))
        return [(str(n), str(r), float(a)) for n, r, a in rows]

    def suppression(self, number: str) -> tuple[str, str, float] | None:
        row = self._open().conn.execute(
            "SELECT number, reason, at FROM suppression WHERE number = ?", (number,)).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), float(row[2]))

    # --- campaigns -----------------------------------------------------------------------------

    def campaign_counts(self, campaign: int) -> dict[OutboxState, int]:
        """A campaign's messages by state (sending counted as queued), from the index
        ``outbox_campaign`` alone."""
        rows = self._open().conn.execute(
            "SELECT state, count(*) FROM outbox WHERE campaign = ? GROUP BY state", (campaign,))
        return {OutboxState(state): int(n) for state, n in rows}

    def campaign_waiting(self, campaign: int, after: int) -> int:
        """A campaign's queued messages past ``after`` (its runner's cursor): not yet fed."""
        row = self._open().conn.execute(
            "SELECT count(*) FROM outbox WHERE campaign = ? AND state = 1 AND seq > ?",
            (campaign, after)).fetchone()
        return int(row[0])

    def campaign_backlog(self, campaign: int, after: int, limit: int) -> list[Row]:
        """A campaign's queued messages not handed to a carrier link, in order after ``after``."""
        rows = self._open().conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE campaign = ? AND state = 1 AND seq > ? "
            "AND sent_at IS NULL ORDER BY seq LIMIT ?", (campaign, after, limit))
        return [self._row(r) for r in rows]

    def cancel_campaign(self, campaign: int, at: float, after: int = 0) -> int:
        """Its queued messages past ``after`` (never handed to the engine) end CANCELLED:
        how many (those the engine holds it cancels itself)."""
        db = self._open()
        return int(db.begin().execute(
            "UPDATE outbox SET state = 10, ready = NULL, done_at = ? WHERE campaign = ? AND "
            "state IN (0, 1) AND seq > ? AND sent_at IS NULL", (at, campaign, after)).rowcount)

    def checkpoint(self) -> tuple[int, int]:
        """Copy the WAL into the database file (PASSIVE: never waits for the writer), on a
        connection of its own: for a thread, while the loop goes on writing. (WAL pages,
        pages copied)."""
        conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        try:
            _, pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        return int(pages), int(copied)

    def wal_size(self) -> int:
        """The WAL file's size in octets (0 when there is none)."""
        try:
            return os.path.getsize(f"{self.path}-wal")
        except FileNotFoundError:
            return 0

    def truncate_wal(self) -> bool:
        """Copy what the WAL still holds into the database and truncate it to nothing, on the
        loop's connection between its transactions; whether that was done (not while a
        transaction is open, or another connection reads). Why: checkpoint() copies the WAL
        from a thread, but only a writer whose transaction began with the WAL wholly copied
        starts it again from the top, and under load the loop's connection has always begun
        one before the checkpoint ends, so the WAL grew without end; after a full disk it
        filled the disk again, and then no checkpoint could grow the database to empty it.
        Called after checkpoint() has copied nearly all of it: what is left is the commits
        since (and one fsync), a short stall, only while the WAL is past ``wal_limit``."""
        conn = self._open().conn
        if conn.in_transaction:
            return False
        # (no waiting on the loop thread for a reader in another process: tried again later)
        timeout = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout = {timeout}")
        return not busy

    def probe(self, at: float) -> None:
        """A write and a commit: what /readyz asks of the store."""
        db = self._open()
        db.begin().execute("INSERT OR REPLACE INTO outbox_meta VALUES ('probe', ?)", (repr(at),))
        self.flush()


_ENGINE_STATE = {v: k for k, v in FROM_ENGINE.items()}
# States that are not a value of the state column alone (sending is a queued row marked sent).
_STATE_WHERE = {
    OutboxState.QUEUED: "state = 1 AND sent_at IS NULL",
    OutboxState.SENDING: "state = 1 AND sent_at IS NOT NULL",
}
