"""SQLite stores: receipt correlation and opt-outs that survive a restart (stdlib ``sqlite3``).

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

Durability of :class:`SqliteCorrelationStore`: writes go into an open transaction that commits
every ``commit_interval`` writes and on :meth:`~SqliteCorrelationStore.flush` and
:meth:`~SqliteCorrelationStore.close` (the engine flushes on every housekeeping tick). A crash of
the process loses the writes since the last commit: at most ``commit_interval - 1`` writes, or a
tick's worth if that is fewer. A lost put means a receipt that finds no record (counted
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
from typing import TYPE_CHECKING

from .stores import CorrelationRecord

if TYPE_CHECKING:
    from types import TracebackType

    from .stores import CorrelationStore, SuppressionStore

__all__ = ["SqliteCorrelationStore", "SqliteSuppressionStore", "StoreError"]

_SCHEMA_VERSION = 1
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

    __slots__ = ("conn", "key", "path", "pending", "records", "users")

    def __init__(self, path: str, key: str | None) -> None:
        self.path = path
        self.key = key  # registry key; None for ":memory:" (never shared)
        self.users = 0
        self.pending = 0  # writes since the last commit
        self.conn = _connect(path)
        self.records: int = self.conn.execute("SELECT count(*) FROM correlation").fetchone()[0]

    def begin(self) -> sqlite3.Connection:
        conn = self.conn
        if not conn.in_transaction:
            conn.execute("BEGIN")
        return conn

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self.pending = 0


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


class SqliteCorrelationStore:
    """:class:`~.stores.CorrelationStore` in a SQLite file (tables ``correlation`` and
    ``segment_state``); see the module docstring for what a crash can lose."""

    def __init__(self, path: str | Path, *, commit_interval: int = 1000) -> None:
        if commit_interval < 1:
            raise ValueError("commit_interval must be >= 1")
        self.commit_interval = commit_interval
        self._db: _Database | None = _acquire(path)
        self.path = self._db.path

    def _open(self) -> _Database:
        db = self._db
        if db is None:
            raise StoreError(self.path, "is closed")
        return db

    def _wrote(self, db: _Database, n: int = 1) -> None:
        db.pending += n
        if db.pending >= self.commit_interval:
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
        self._wrote(db)

    def pop(self, channel: str, message_id: str) -> CorrelationRecord | None:
        db = self._open()
        rows = db.begin().execute(_POP, (channel, message_id)).fetchall()
        if not rows:
            return None
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
        db.records -= len(rows)
        self._wrote(db, len(rows))
        return [CorrelationRecord(channel, message_id, ref, segment, segments, submitted, expires)
                for expires, _, channel, message_id, ref, segment, segments, submitted in rows]

    def set_segment_state(self, message_ref: str, segment: int, segments: int,
                          state: int) -> dict[int, int]:
        db = self._open()
        conn = db.begin()
        conn.execute(_SET_SEGMENT, (message_ref, segment, segments, state))
        self._wrote(db)
        return dict(conn.execute(_SEGMENTS, (message_ref,)).fetchall())

    def forget(self, message_ref: str) -> None:
        db = self._open()
        if db.begin().execute(_FORGET, (message_ref,)).rowcount:
            self._wrote(db)

    def __len__(self) -> int:
        return self._open().records

    def flush(self) -> None:
        self._open().commit()

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.commit()
            finally:
                _release(db)

    def __enter__(self) -> SqliteCorrelationStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class SqliteSuppressionStore:
    """:class:`~.stores.SuppressionStore` in a SQLite file (table ``suppression``).

    Every number is loaded into a set at open, so ``in`` (asked for every marketing message)
    never touches the disk; the set is as large as the table, deliberately with no cap, since
    forgetting an opt-out would message someone who said stop. :meth:`add` and :meth:`remove`
    commit before returning. If a write fails the error propagates and the set errs towards
    suppression: an added number is suppressed anyway (until a restart), a removed one stays.
    """

    def __init__(self, path: str | Path) -> None:
        self._db: _Database | None = _acquire(path)
        self.path = self._db.path
        try:
            rows = self._db.conn.execute("SELECT number FROM suppression").fetchall()
        except BaseException:
            self.close()
            raise
        self._numbers: set[str] = {number for (number,) in rows}

    def _open(self) -> _Database:
        db = self._db
        if db is None:
            raise StoreError(self.path, "is closed")
        return db

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

    def __contains__(self, number: object) -> bool:
        return number in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            _release(db)

    def __enter__(self) -> SqliteSuppressionStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


if TYPE_CHECKING:  # mypy checks that both classes satisfy the protocols
    def _conforms(c: SqliteCorrelationStore,
                  s: SqliteSuppressionStore) -> tuple[CorrelationStore, SuppressionStore]:
        return c, s
