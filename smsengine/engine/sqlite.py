"""SQLite stores: receipt correlation, message statuses and opt-outs that survive a restart
(stdlib ``sqlite3``).

Same semantics as the memory stores in :mod:`.stores`, except that the correlation store has no
size cap: a disk store is bounded by expiry instead.

One file may hold both stores (the engine's ``store`` setting names one path). Within a process,
every store opened on the same file shares one connection: the correlation store keeps a write
transaction open between batch commits, so a second connection could not write the opt-out table
without waiting for it ("database is locked"). Sharing means an opt-out's commit also commits the
correlation batch so far, which only ever shortens the durability window. The file belongs to one
process (one engine); other processes may read it (WAL lets them, seeing the last commit). A
second engine opening the file while the first holds its batch transaction (nearly always) is
refused at open with :class:`StoreError`.

Durability of :class:`SqliteCorrelationStore` and :class:`SqliteStatusStore`: writes go into an
open transaction that commits every ``commit_interval`` writes (from a put only, never from a pop
or a status write: a receipt's pop and the statuses it leads to commit together) and on
``flush`` and ``close`` (the engine flushes on every housekeeping tick). A crash of the
process loses the writes since the last commit: a few thousand writes at most, or a tick's worth
if that is fewer. A lost put means a receipt that finds no record (counted
unmatched); a lost pop or expiry brings the record back after the restart, so its message may be
reported a second time (as UNKNOWN when the record expires again). With WAL and
``synchronous=NORMAL`` a commit survives a process crash; an OS crash or power cut may also lose
the last commits before a checkpoint, but never corrupts the file. :class:`SqliteSuppressionStore`
commits every change before returning.

All calls are synchronous and run on the event loop: a write into the open transaction takes a
few microseconds; a commit appends to the WAL without fsync (``synchronous=NORMAL``); only the
automatic checkpoint (every 1000 WAL pages) fsyncs, on the loop thread too.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import msgspec

from .model import DeliveryFailure, MessageState
from .status import MessageStatus, PartStatus
from .stores import CorrelationRecord

if TYPE_CHECKING:
    from types import TracebackType

    from .status import StatusStore
    from .stores import CorrelationStore, SuppressionStore

__all__ = [
    "SharedFileStore",
    "SqliteCorrelationStore",
    "SqliteStatusStore",
    "SqliteSuppressionStore",
    "StoreError",
]

# 2: message_status (version 1 files gain it when opened).
_SCHEMA_VERSION = 2
_BUSY_TIMEOUT = 1.0  # seconds; a lock held longer means another process writes this file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS correlation (
    channel      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    message_ref  TEXT NOT NULL,
    segment      INTEGER NOT NULL,
    segments     INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    expires_at   REAL NOT NULL,
    PRIMARY KEY (channel, message_id)
);
-- Index entries are (expires_at, rowid): expiry order, ties in put order, without a sort.
CREATE INDEX IF NOT EXISTS correlation_expires_at ON correlation (expires_at);
CREATE TABLE IF NOT EXISTS segment_state (
    message_ref TEXT NOT NULL,
    segment     INTEGER NOT NULL,
    segments    INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    PRIMARY KEY (message_ref, segment)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message_status (
    ref          TEXT PRIMARY KEY,
    reference    TEXT,
    state        TEXT NOT NULL,
    done_at      REAL,          -- NULL while not final
    status       BLOB NOT NULL  -- the MessageStatus, as msgspec JSON
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS message_status_reference ON message_status (reference)
    WHERE reference IS NOT NULL;
CREATE INDEX IF NOT EXISTS message_status_done_at ON message_status (done_at)
    WHERE done_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS suppression (
    number TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at     REAL NOT NULL
) WITHOUT ROWID;
"""

# DO NOTHING (not OR IGNORE, which would also skip NOT NULL violations) tells a new key from a
# replacement by the change count, so the record count stays exact without a COUNT(*).
_INSERT = "INSERT INTO correlation VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
# REPLACE deletes the old row and inserts with a rowid above every live one: a replaced record
# sorts after older ones that expire at the same moment, as in the memory store.
_REPLACE = "INSERT OR REPLACE INTO correlation VALUES (?, ?, ?, ?, ?, ?, ?)"
_POP = ("DELETE FROM correlation WHERE channel = ? AND message_id = ? "
        "RETURNING message_ref, segment, segments, submitted_at, expires_at")
# RETURNING rows come in no promised order; they carry the sort key and are sorted in Python.
_EXPIRE = ("DELETE FROM correlation WHERE rowid IN ("
           "SELECT rowid FROM correlation WHERE expires_at <= ? "
           "ORDER BY expires_at, rowid LIMIT ?) "
           "RETURNING expires_at, rowid, channel, message_id, message_ref, segment, segments, "
           "submitted_at")
_SET_SEGMENT = ("INSERT INTO segment_state VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
                "SET segments = excluded.segments, state = excluded.state")
_SEGMENTS = "SELECT segment, state FROM segment_state WHERE message_ref = ?"
_FORGET = "DELETE FROM segment_state WHERE message_ref = ?"
_STATUS_PUT = "INSERT OR REPLACE INTO message_status VALUES (?, ?, ?, ?, ?)"
_STATUS_GET = "SELECT status FROM message_status WHERE ref = ?"
# The latest under a reference: done_at NULL (still going) sorts last ascending, so first here.
_STATUS_BY_REFERENCE = ("SELECT status FROM message_status WHERE reference = ? "
                        "ORDER BY done_at IS NULL DESC, done_at DESC LIMIT 1")
_STATUS_PRUNE = ("DELETE FROM message_status WHERE ref IN (SELECT ref FROM message_status "
                 "WHERE done_at IS NOT NULL AND done_at < ? ORDER BY done_at LIMIT ?)")
_STATUS_COUNT = "SELECT count(*) FROM message_status"
_STATUS_OLDEST = ("DELETE FROM message_status WHERE ref IN (SELECT ref FROM message_status "
                  "WHERE done_at IS NOT NULL ORDER BY done_at LIMIT ?)")
_SUPPRESS = "INSERT OR REPLACE INTO suppression VALUES (?, ?, ?)"
_UNSUPPRESS = "DELETE FROM suppression WHERE number = ?"


class StoreError(ValueError):
    """A store file that cannot be used: missing directory, not a SQLite database, held by
    another process, or a store used after :meth:`close`."""

    retriable = False

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"store {path!r}: {problem}")
        self.path = path
        self.problem = problem


class _Database:
    """One connection to a store file, shared by the stores opened on it in this process."""

    __slots__ = ("conn", "journal", "key", "path", "pending", "records", "users")

    def __init__(self, path: str, key: str | None) -> None:
        self.path = path
        self.key = key  # registry key; None for ":memory:" (never shared)
        self.users = 0
        self.pending = 0  # writes since the last commit
        # The correlation writes since the last commit, to be written again if their
        # transaction is rolled back: a COMMIT that fails with SQLITE_FULL (disk full) is
        # rolled back whole by SQLite, and the records lost with it left their messages
        # submitted for good, their receipts matching nothing and their expiry never coming
        # (the chaos runner's disk_full, issue 21). Cleared at each commit.
        self.journal: list[tuple[str, tuple[Any, ...]]] = []
        self.conn = _connect(path)
        self.records: int = self.conn.execute("SELECT count(*) FROM correlation").fetchone()[0]

    def begin(self) -> sqlite3.Connection:
        conn = self.conn
        if not conn.in_transaction:
            conn.execute("BEGIN")
            if self.journal:  # (the last transaction was rolled back: its writes again)
                try:
                    for sql, params in self.journal:
                        conn.execute(sql, params).fetchall()
                except sqlite3.Error:
                    conn.rollback()  # (all of it or nothing: the journal stays for next time)
                    raise
        return conn

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self.pending = 0
        self.journal.clear()


_OPEN: dict[str, _Database] = {}


def _acquire(path: str | Path) -> _Database:
    name = os.fspath(path)
    key = None if name == ":memory:" else os.path.realpath(name)
    db = _OPEN.get(key) if key is not None else None
    if db is None:
        db = _Database(name, key)
        if key is not None:
            _OPEN[key] = db
    db.users += 1
    return db


def _release(db: _Database) -> None:
    db.users -= 1
    if db.users > 0:
        return
    if db.key is not None and _OPEN.get(db.key) is db:
        del _OPEN[db.key]
    try:
        db.commit()
    finally:
        db.conn.close()


def _connect(path: str) -> sqlite3.Connection:
    if sqlite3.sqlite_version_info < (3, 35):  # RETURNING, ON CONFLICT without a target
        raise StoreError(path, f"needs SQLite >= 3.35, this Python has {sqlite3.sqlite_version}")
    if path != ":memory:":
        target = Path(path)
        if target.is_dir():
            raise StoreError(path, "is a directory, not a database file")
        if not target.parent.is_dir():
            raise StoreError(path, f"directory {str(target.parent)!r} does not exist")
    try:
        # isolation_level=None: transactions are begun and committed here, not by the module.
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(path, f"cannot be opened ({exc})") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if path != ":memory:" and mode != "wal":
            raise StoreError(path, f"the filesystem refused WAL journal mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=NORMAL")
        # IMMEDIATE takes the write lock now, so a file another engine is writing is refused
        # here rather than failing the first put after the busy timeout.
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise StoreError(path, f"schema version {version} is newer than this smsengine's "
                                   f"({_SCHEMA_VERSION})")
        for statement in _SCHEMA.split(";"):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(path, _describe(exc)) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _describe(exc: sqlite3.Error) -> str:
    name = exc.sqlite_errorname
    if name == "SQLITE_NOTADB":
        return "is not a SQLite database"
    if name == "SQLITE_BUSY":
        return "is locked by another process (is another engine using this store?)"
    if name in ("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN"):
        return f"cannot be written ({exc})"
    return f"cannot be used as a store ({exc})"


class _FileStore:
    """What the three stores share: their file's one connection (see _acquire), refused once
    closed, committed on flush and close, and ``with`` support."""

    def __init__(self, path: str | Path) -> None:
        self._db: _Database | None = _acquire(path)
        self.path = self._db.path

    def _open(self) -> _Database:
        db = self._db
        if db is None:
            raise StoreError(self.path, "is closed")
        return db

    def flush(self) -> None:
        self._open().commit()

    def _create_tables(self, schema: str, what: str) -> None:
        """A store's own tables (``schema``: statements separated by ``;``), created in one
        immediate transaction after the file's open one is committed; a file that cannot hold
        them is a StoreError naming ``what`` (and this store is closed)."""
        db = self._open()
        try:
            db.commit()
            conn = db.conn
            conn.execute("BEGIN IMMEDIATE")
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(self.path, f"cannot hold {what} ({exc})") from exc

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.commit()
            finally:
                _release(db)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


#: The base for a store of one's own in an engine's file (the daemon's outbox): it shares the
#: file's one connection and its open transaction with the engine's stores, so that what it
#: writes commits together with the correlation records (see the module docstring).
SharedFileStore = _FileStore


class SqliteCorrelationStore(_FileStore):
    """:class:`~.stores.CorrelationStore` in a SQLite file (tables ``correlation`` and
    ``segment_state``); see the module docstring for what a crash can lose."""

    def __init__(self, path: str | Path, *, commit_interval: int = 1000) -> None:
        if commit_interval < 1:
            raise ValueError("commit_interval must be >= 1")
        self.commit_interval = commit_interval
        super().__init__(path)

    def _wrote(self, db: _Database, n: int = 1, *, commit: bool = False) -> None:
        """Count writes; commit every ``commit_interval`` of them, but only from a write that
        may end a transaction (a put). A pop, an expiry or a segment's state is always followed,
        in the same call, by what it means (the message's status written, its receipt's
        roll-up): a commit between the two could keep the one without the other."""
        db.pending += n
        if commit and db.pending >= self.commit_interval:
            db.commit()

    def put(self, record: CorrelationRecord) -> None:
        db = self._open()
        conn = db.begin()
        row = (record.channel, record.message_id, record.message_ref, record.segment,
               record.segments, record.submitted_at, record.expires_at)
        if conn.execute(_INSERT, row).rowcount:
            db.records += 1
        else:
            conn.execute(_REPLACE, row)
        db.journal.append((_REPLACE, row))
        self._wrote(db, commit=True)

    def pop(self, channel: str, message_id: str) -> CorrelationRecord | None:
        db = self._open()
        rows = db.begin().execute(_POP, (channel, message_id)).fetchall()
        if not rows:
            return None
        db.journal.append((_POP, (channel, message_id)))
        db.records -= 1
        self._wrote(db)
        return CorrelationRecord(channel, message_id, *rows[0])

    def expire(self, now: float, limit: int = 10_000) -> list[CorrelationRecord]:
        db = self._open()
        if limit <= 0:  # LIMIT -1 would mean no limit to SQLite
            return []
        rows = db.begin().execute(_EXPIRE, (now, limit)).fetchall()
        if not rows:
            return []
        rows.sort()  # by (expires_at, rowid): unique, so the sort never looks further
        db.journal.extend((_POP, (channel, message_id))
                          for _, _, channel, message_id, *_ in rows)
        db.records -= len(rows)
        self._wrote(db, len(rows))
        return [CorrelationRecord(channel, message_id, ref, segment, segments, submitted, expires)
                for expires, _, channel, message_id, ref, segment, segments, submitted in rows]

    def set_segment_state(self, message_ref: str, segment: int, segments: int,
                          state: int) -> dict[int, int]:
        db = self._open()
        conn = db.begin()
        conn.execute(_SET_SEGMENT, (message_ref, segment, segments, state))
        db.journal.append((_SET_SEGMENT, (message_ref, segment, segments, state)))
        self._wrote(db)
        return dict(conn.execute(_SEGMENTS, (message_ref,)).fetchall())

    def forget(self, message_ref: str) -> None:
        db = self._open()
        if db.begin().execute(_FORGET, (message_ref,)).rowcount:
            db.journal.append((_FORGET, (message_ref,)))
            self._wrote(db)

    def __len__(self) -> int:
        return self._open().records




class SqliteStatusStore(_FileStore):
    """:class:`~.status.StatusStore` in a SQLite file (table ``message_status``): each
    message's :class:`~.status.MessageStatus` as JSON, keyed by ref, indexed by the caller's
    reference and by when it became final.

    Final statuses are kept ``retention`` seconds, and at most ``max_rows`` of them (the
    oldest go first); :meth:`prune` does both, in batches, from the engine's housekeeping.
    Writes join the file's open transaction (shared with the correlation store, so a receipt's
    correlation row and the status it leads to commit together) and never commit by
    themselves: the correlation store's puts and the housekeeping flush do."""

    def __init__(self, path: str | Path, *, retention: float = 7 * 86400.0,
                 max_rows: int = 10_000_000) -> None:
        if retention <= 0 or max_rows < 1:
            raise ValueError("retention must be > 0 and max_rows >= 1")
        self.retention = retention
        self.max_rows = max_rows
        super().__init__(path)
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(MessageStatus).decode
        self._counted = -1e18  # when the rows were last counted (prune), and how many over
        self._over = 0

    def _write(self, status: MessageStatus) -> None:
        db = self._open()
        db.begin().execute(_STATUS_PUT, (status.ref, status.reference, status.state.value,
                                         status.done_at if status.final else None,
                                         self._encode(status)))
        # Counted, never committed here: a status may be one step of several (a receipt's
        # pop, the part, the message, the forget after a restart) that must commit together;
        # a put or the housekeeping flush commits them.
        db.pending += 1

    def record(self, status: MessageStatus) -> None:
        self._write(status)

    def update_part(self, ref: str, index: int, state: MessageState, smsc_id: str,
                    at: float, reason: DeliveryFailure | None = None) -> None:
        status = self.get(ref)
        if status is None:
            status = MessageStatus(ref=ref, state=MessageState.SUBMITTED, final=False)
        parts = {p.index: p for p in status.parts}
        old = parts.get(index)
        parts[index] = PartStatus(index=index, smsc_id=smsc_id or (old.smsc_id if old else ""),
                                  state=state, submitted_at=old.submitted_at if old else None,
                                  done_at=at)
        self._write(msgspec.structs.replace(
            status, parts=tuple(parts[i] for i in sorted(parts)),
            reason=status.reason if status.reason is not None else reason))

    def finish(self, ref: str, state: MessageState, at: float) -> None:
        status = self.get(ref) or MessageStatus(ref=ref, state=state, final=True)
        self._write(msgspec.structs.replace(status, state=state, final=True, done_at=at))

    def get(self, ref: str) -> MessageStatus | None:
        row = self._open().conn.execute(_STATUS_GET, (ref,)).fetchone()
        return None if row is None else self._decode(row[0])

    def by_reference(self, reference: str) -> MessageStatus | None:
        row = self._open().conn.execute(_STATUS_BY_REFERENCE, (reference,)).fetchone()
        return None if row is None else self._decode(row[0])

    def prune(self, now: float, batch: int = 10_000) -> int:
        db = self._open()
        conn = db.begin()
        gone = conn.execute(_STATUS_PRUNE, (now - self.retention, batch)).rowcount
        if now - self._counted >= 600.0 or self._over > 0:
            # (count(*) reads the whole table: at most every ten minutes, and again while
            # there is more to drop past max_rows)
            self._counted = now
            self._over = conn.execute(_STATUS_COUNT).fetchone()[0] - self.max_rows
        if self._over > 0:
            dropped = conn.execute(_STATUS_OLDEST, (min(self._over, batch),)).rowcount
            self._over -= dropped
            gone += dropped
        db.commit()
        return int(gone)

    def __len__(self) -> int:
        return int(self._open().conn.execute(_STATUS_COUNT).fetchone()[0])



class SqliteSuppressionStore(_FileStore):
    """:class:`~.stores.SuppressionStore` in a SQLite file (table ``suppression``).

    Every number is loaded into a set at open, so ``in`` (asked for every marketing message)
    never touches the disk; the set is as large as the table, deliberately with no cap, since
    forgetting an opt-out would message someone who said stop. :meth:`add` and :meth:`remove`
    commit before returning. If a write fails the error propagates and the set errs towards
    suppression: an added number is suppressed anyway (until a restart), a removed one stays.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        try:
            rows = self._open().conn.execute("SELECT number FROM suppression").fetchall()
        except BaseException:
            self.close()
            raise
        self._numbers: set[str] = {number for (number,) in rows}

    def add(self, number: str, reason: str, at: float) -> None:
        db = self._open()
        self._numbers.add(number)
        db.conn.execute(_SUPPRESS, (number, reason, at))
        db.commit()

    def remove(self, number: str) -> None:
        db = self._open()
        db.conn.execute(_UNSUPPRESS, (number,))
        db.commit()
        self._numbers.discard(number)

    def entries(self) -> list[tuple[str, str, float]]:
        """Every (number, reason, at): what a cluster node merges with the cluster's list."""
        rows = self._open().conn.execute("SELECT number, reason, at FROM suppression").fetchall()
        return [(str(n), str(r), float(a)) for n, r, a in rows]

    def __contains__(self, number: object) -> bool:
        return number in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)



if TYPE_CHECKING:  # mypy checks that the classes satisfy the protocols
    def _conforms(c: SqliteCorrelationStore, s: SqliteSuppressionStore,
                  m: SqliteStatusStore) -> tuple[CorrelationStore, SuppressionStore,
                                                 StatusStore]:
        return c, s, m
