"""Events and webhooks: what the daemon tells.

**The event log** (:class:`EventLog`, table ``events`` in the outbox's SQLite file): every
message state change and MO the config asks for, numbered (``evt_<seq>``), written in the
same transaction as the change that caused it (the outbox's flush), so a crash loses none. It
is read by ``GET /v1/events?after=…&wait=…`` (a long poll whose cursor is the number: it
survives restarts) and by the webhook senders.

**Webhooks** (:class:`WebhookSender`, one per ``[[webhooks]]`` entry): events matching the
entry's filters (type patterns, optionally one API key's messages) POSTed as JSON, ``batch``
events per request (an array; ``batch = 1``: the event itself), at most ``concurrency``
requests in flight, each with a ``timeout``. Signed per Standard Webhooks: ``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``, one
signature per active secret (rotation). A failed request (an error status, a timeout, a reset)
is retried with exponential backoff and jitter, the same batch under the same ``webhook-id``,
until ``horizon`` (24 h) has passed since its first try; then its events are dead-lettered
(table ``webhook_failed``: ``GET /v1/webhooks/failed``, ``POST /v1/webhooks/replay``). A 410
Gone disables the endpoint (logged, counted) until the daemon restarts.

Each endpoint's progress is a durable cursor (``webhook_cursor``): the events up to it were
delivered (or dead-lettered). After a crash, sending resumes from it: at least once, so a
receiver dedups by each event's ``id`` (also the ``webhook-id`` when ``batch = 1``). A slow or
dead receiver never slows sending: its backlog is the event log past its cursor, on disk,
bounded by ``[events] max_events`` (the oldest dead-lettered past it), with a metric and a
warning as it grows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import functools
import hashlib
import hmac
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec

from ..engine.sqlite import SharedFileStore

__all__ = ["EVENT_TYPES", "Event", "EventLog", "WebhookConfig", "WebhookSender", "shown_url",
           "sign"]

log = logging.getLogger("smsengine.daemon.webhooks")

EVENT_TYPES = (
    "message.submitted", "message.delivered", "message.undeliverable", "message.expired",
    "message.rejected", "message.failed", "message.unknown", "message.cancelled",
    "mo.received",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    type      TEXT NOT NULL,
    principal TEXT,           -- the API key (name) that sent the message, if any
    data      BLOB NOT NULL   -- the event's data (msgspec JSON)
);
CREATE TABLE IF NOT EXISTS webhook_cursor (
    endpoint TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_failed (
    endpoint TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    type     TEXT NOT NULL,
    at       REAL NOT NULL,
    data     BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    error    TEXT NOT NULL,
    failed_at REAL NOT NULL,
    PRIMARY KEY (endpoint, seq)
) WITHOUT ROWID;
"""


class WebhookConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    url: str
    events: list[str] = msgspec.field(
        default_factory=lambda: [t for t in EVENT_TYPES if t != "message.submitted"])
    api_key: str = ""  # only events of messages sent with this API key (its name)
    secrets: list[str] = msgspec.field(default_factory=list)  # whsec_… (several: rotation)
    secret_env: str = ""  # or an environment variable holding them, space-separated
    batch: int = 100
    concurrency: int = 4
    timeout: float = 10.0
    horizon: float = 86400.0  # seconds of retrying before a batch is dead-lettered
    retry_min: float = 1.0  # the first retry's delay (seconds), doubled each time, jittered
    retry_max: float = 600.0  # and at most this

    def __repr__(self) -> str:  # (msgspec's would print the secrets)
        return (f"WebhookConfig(name={self.name!r}, url={shown_url(self.url)!r}, "
                f"events={self.events!r}, secrets=<{len(self.secrets)} redacted>, "
                f"secret_env={self.secret_env!r})")

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("name", self.name), ("url", shown_url(self.url)), ("events", self.events),
                ("secrets", f"<{len(self.secrets)} redacted>")]

    def matches(self, kind: str) -> bool:
        return any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.events)


def shown_url(url: str) -> str:
    """A webhook URL as it may be shown (reprs, logs): receivers often put a token in the query
    or the userinfo, so both are redacted; the scheme, host and path are kept."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<url redacted>"
    host = parts.netloc.rpartition("@")[2]
    netloc = f"<redacted>@{host}" if "@" in parts.netloc else host
    return urlunsplit((parts.scheme, netloc, parts.path,
                       "<redacted>" if parts.query else "", ""))


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64), or ValueError."""
    if not secret.startswith("whsec_"):
        raise ValueError("a webhook secret starts with whsec_ (then base64)")
    try:
        key = base64.b64decode(secret[6:], validate=True)
    except ValueError:
        raise ValueError("a webhook secret is whsec_ then base64") from None
    if len(key) < 16:
        raise ValueError("a webhook secret holds at least 16 bytes")
    return key


def sign(keys: Iterable[bytes], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64>`` per key, space-separated."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
                    .decode() for key in keys)


# Committed events kept in memory for the readers that are caught up (the senders, long polls):
# they read them from here, not from SQLite. With a webhook on, reading them back from the
# file (a SELECT and an Event a row, each read four times) was a third of its cost.
RECENT_EVENTS = 20_000


@functools.lru_cache(maxsize=64)
def _stamp(second: int) -> bytes:
    """ISO 8601 up to the seconds, once per second (not once per event)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()


class Event(msgspec.Struct, frozen=True, gc=False):
    seq: int
    at: float
    type: str
    principal: str | None
    data: bytes

    @property
    def id(self) -> str:
        return f"evt_{self.seq}"

    def envelope(self) -> bytes:
        """The event as sent and served: {"id", "type", "timestamp", "data"}."""
        return (b'{"id":"evt_%d","type":"%s","timestamp":"%s.%03dZ","data":' % (
            self.seq, self.type.encode(), _stamp(int(self.at)), int(self.at * 1000) % 1000)
            + self.data + b"}")


class EventLog(SharedFileStore):
    """The event log and the webhook tables in the outbox's file; writes are buffered and go
    in at :meth:`write`, which the gateway calls inside its flush (before the commit)."""

    def __init__(self, path: str | Path, *, record: Iterable[str]) -> None:
        super().__init__(path)
        self._create_tables(_SCHEMA, "the event log")
        row = self._open().conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        self.last_seq = int(row[0]) if row else 0
        self.recorded = frozenset(record)
        self._buffer: list[tuple[int, float, str, str | None, bytes]] = []
        # The last events written, oldest first, contiguous by number: _recent[i] is event
        # number _recent_first + i (at most 2 x RECENT_EVENTS, halved as it grows).
        self._recent: list[Event] = []
        self._recent_first = self.last_seq + 1
        # What write() put into the open transaction, kept until the gateway says whether it
        # committed (committed) or not (rolled_back: it is written again next time, under the
        # same numbers, so a failed commit loses no event).
        self._staged: tuple[list[Any], dict[str, int], list[tuple[Any, ...]]] | None = None
        self._cursors: dict[str, int] = {}
        self._failed: list[tuple[Any, ...]] = []
        self._encode = msgspec.json.Encoder().encode
        self._waiters: list[asyncio.Future[None]] = []

    def wants(self, kind: str) -> bool:
        return kind in self.recorded

    def add(self, kind: str, at: float, principal: str | None, data: Any) -> int:
        """Buffer one event; its number."""
        self.last_seq += 1
        self._buffer.append((self.last_seq, at, kind, principal, self._encode(data)))
        return self.last_seq

    @property
    def dirty(self) -> bool:
        return bool(self._buffer or self._cursors or self._failed)

    def write(self) -> bool:
        """Into the open transaction (the caller commits). Whether new events went in."""
        if not self.dirty:
            return False
        conn = self._open().begin()
        buffer, cursors, failed = self._buffer, self._cursors, self._failed
        self._buffer, self._cursors, self._failed = [], {}, []
        staged = self._staged  # (written before into the same transaction, not yet ended)
        self._staged = (buffer, cursors, failed) if staged is None else (
            staged[0] + buffer, {**staged[1], **cursors}, staged[2] + failed)
        try:
            if buffer:
                conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", buffer)
            if failed:
                conn.executemany("INSERT OR REPLACE INTO webhook_failed VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?)", failed)
            if cursors:
                conn.executemany("INSERT OR REPLACE INTO webhook_cursor VALUES (?, ?)",
                                 list(cursors.items()))
        except sqlite3.Error:
            self.rolled_back()
            raise
        return bool(buffer)

    def rolled_back(self) -> None:
        """The transaction write() wrote into did not commit: its events, cursors and dead
        letters are buffered again, ahead of anything buffered since."""
        if self._staged is None:
            return
        buffer, cursors, failed = self._staged
        self._staged = None
        self._buffer = buffer + self._buffer
        self._cursors = {**cursors, **self._cursors}
        self._failed = failed + self._failed

    def committed(self) -> None:
        """The gateway committed what write() wrote: the events are served (from memory too)
        and the long polls and senders woken."""
        if self._staged is None:
            return
        buffer = self._staged[0]
        self._staged = None
        if not buffer:
            return
        self._recent += [Event(*row) for row in buffer]
        if len(self._recent) > 2 * RECENT_EVENTS:
            drop = len(self._recent) - RECENT_EVENTS
            del self._recent[:drop]
            self._recent_first += drop
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until new events are committed, or ``timeout``."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, timeout)

    @property
    def committed_seq(self) -> int:
        staged = len(self._staged[0]) if self._staged is not None else 0
        return self.last_seq - len(self._buffer) - staged

    def after(self, seq: int, limit: int, *,
              types: Iterable[str] | None = None) -> tuple[list[Event], int]:
        """Committed events after ``seq``, oldest first, of the ``types`` (patterns) if given,
        among at most ``limit`` read; and the number of the last one read (where to go on).
        From memory when they are among the last written, else from the file."""
        read: list[Event]
        if seq + 1 >= self._recent_first:  # (the Events made once, shared by every reader)
            start = seq + 1 - self._recent_first
            read = self._recent[start:start + limit]
        else:
            read = [Event(int(s), float(at), str(kind), who, bytes(data))
                    for s, at, kind, who, data in self._open().conn.execute(
                        "SELECT seq, at, type, principal, data FROM events WHERE seq > ? "
                        "AND seq <= ? ORDER BY seq LIMIT ?", (seq, self.committed_seq, limit))]
        if types is not None:
            wanted = list(types)
            out = [e for e in read if any(fnmatch.fnmatchcase(e.type, p) for p in wanted)]
        else:
            out = read
        return out, read[-1].seq if read else seq

    def cursor(self, endpoint: str) -> int | None:
        row = self._open().conn.execute("SELECT seq FROM webhook_cursor WHERE endpoint = ?",
                                        (endpoint,)).fetchone()
        return None if row is None else int(row[0])

    def set_cursor(self, endpoint: str, seq: int) -> None:
        self._cursors[endpoint] = seq

    def dead_letter(self, endpoint: str, events: list[Event], attempts: int, error: str,
                    at: float) -> None:
        self._failed.extend((endpoint, e.seq, e.type, e.at, e.data, attempts, error, at)
                            for e in events)

    def failed(self, endpoint: str | None, after: int, limit: int) -> list[dict[str, Any]]:
        sql = ("SELECT endpoint, seq, type, at, attempts, error, failed_at FROM webhook_failed "
               "WHERE seq > ?")
        args: list[Any] = [after]
        if endpoint is not None:
            sql += " AND endpoint = ?"
            args.append(endpoint)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        return [{"endpoint": e, "event_id": f"evt_{s}", "seq": s, "type": t, "at": a,
                 "attempts": n, "error": err, "failed_at": f}
                for e, s, t, a, n, err, f in self._open().conn.execute(sql, args)]

    def take_failed(self, endpoint: str, limit: int = 10_000) -> list[Event]:
        """Dead letters of ``endpoint``, taken out to be sent again (replay)."""
        db = self._open()
        conn = db.begin()
        rows = conn.execute(
            "DELETE FROM webhook_failed WHERE endpoint = ? AND seq IN (SELECT seq FROM "
            "webhook_failed WHERE endpoint = ? ORDER BY seq LIMIT ?) "
            "RETURNING seq, at, type, data", (endpoint, endpoint, limit)).fetchall()
        return sorted((Event(int(s), float(a), str(t), None, bytes(d)) for s, a, t, d in rows),
                      key=lambda e: e.seq)

    def prune(self, keep_after: int, before: float, max_events: int) -> int:
        """Events delivered everywhere (at or below ``keep_after``) and older than ``before``
        go; past ``max_events`` the oldest go anyway (the caller dead-letters those a sender
        still needed)."""
        conn = self._open().begin()
        gone = conn.execute("DELETE FROM events WHERE seq <= ? AND at < ?",
                            (keep_after, before)).rowcount
        over = self.last_seq - max_events
        if over > 0:
            gone += conn.execute("DELETE FROM events WHERE seq <= ?", (over,)).rowcount
        # Memory serves only what the file still holds: what could have gone from the file
        # goes from memory too (the readers past it are served from memory still).
        drop = min(max(keep_after, over) + 1 - self._recent_first, len(self._recent))
        if drop > 0:
            del self._recent[:drop]
            self._recent_first += drop
        return int(gone)


class WebhookSender:
    """Sends one endpoint's events; see the module docstring."""

    def __init__(self, config: WebhookConfig, keys: list[bytes], log_: EventLog,
                 flush: Callable[[], None], counters: dict[str, int]) -> None:
        self.config = config
        self.keys = keys
        self.events = log_
        self._flush = flush
        self.counters = counters
        self.disabled = False
        self.cursor = log_.cursor(config.name)
        if self.cursor is None:
            # A new endpoint starts from now, not from the whole history.
            self.cursor = log_.committed_seq
            log_.set_cursor(config.name, self.cursor)
        self.read = self.cursor  # the last event handed to a batch
        self._done: set[int] = set()  # last seq of each finished batch past the cursor
        # Batches not yet done, oldest first: last seq -> first seq.
        self._batches: dict[int, int] = {}
        self._inflight = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._replay: list[Event] = []
        self._types: dict[str, bool] = {}  # event type -> whether this endpoint takes it
        self._warned = 0.0

    @property
    def backlog(self) -> int:
        return max(0, self.events.committed_seq - self.cursor)  # type: ignore[operator]

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            connector=aiohttp.TCPConnector(limit=self.config.concurrency))
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name=f"webhook {self.config.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def wake(self) -> None:
        self._wake.set()

    def replay(self, events: list[Event]) -> None:
        self._replay.extend(events)
        self._wake.set()

    async def _run(self) -> None:
        cfg = self.config
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._wake.clear()
                while not self.disabled and self._inflight < cfg.concurrency:
                    batch, stands_for = self._next_batch()
                    if not batch:
                        break
                    self._inflight += 1
                    task = asyncio.get_running_loop().create_task(
                        self._deliver(batch, stands_for))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                self._warn()
                await self._wake.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _wants(self, event: Event) -> bool:
        cfg = self.config
        wanted = self._types.get(event.type)
        if wanted is None:  # (the patterns matched once per type, not once per event)
            wanted = self._types[event.type] = cfg.matches(event.type)
        return wanted and (not cfg.api_key or event.principal == cfg.api_key)

    def _next_batch(self) -> tuple[list[Event], int | None]:
        """The next batch of this endpoint's events, and the number of the last event it
        stands for: the events read past that this endpoint does not take are done with it
        (None for a replay, which stands for nothing in the log)."""
        cfg = self.config
        if self._replay:
            batch, self._replay = self._replay[:cfg.batch], self._replay[cfg.batch:]
            return batch, None
        while True:
            picked: list[Event] = []
            read = self.read
            while len(picked) < cfg.batch:  # (reads only as many as the batch has room for)
                events, last_read = self.events.after(read, cfg.batch - len(picked))
                if last_read == read:
                    break
                picked += filter(self._wants, events)
                read = last_read
            if read == self.read:
                return [], None  # nothing new
            self._batches[read] = self.read + 1
            self.read = read
            if picked:
                return picked, read
            # Nothing for this endpoint in what was read: past it, as if delivered.
            self._finished(read)

    async def _deliver(self, batch: list[Event], stands_for: int | None) -> None:
        cfg = self.config
        first_try = time.time()
        webhook_id = (batch[0].id if len(batch) == 1
                      else f"{cfg.name}_{batch[0].seq}_{batch[-1].seq}")
        body = (batch[0].envelope() if cfg.batch == 1 and len(batch) == 1
                else b"[" + b",".join(e.envelope() for e in batch) + b"]")
        attempt = 0
        error = ""
        try:
            while True:
                attempt += 1
                result, error = await self._post(webhook_id, body)
                log.debug("webhook %s: %s, events %d-%d (%d), try %d%s", cfg.name, result,
                          batch[0].seq, batch[-1].seq, len(batch), attempt,
                          f": {error}" if error else "")
                self.counters[f"webhook_{result}"] = self.counters.get(
                    f"webhook_{result}", 0) + 1
                if result == "delivered":
                    break
                if result == "gone":
                    self.disabled = True
                    log.error("webhook %s: the receiver answered 410 Gone: disabled until the "
                              "daemon restarts; its events stay in the log", cfg.name)
                    return
                if time.time() - first_try >= cfg.horizon:
                    self.events.dead_letter(cfg.name, batch, attempt, error, time.time())
                    self.counters["webhook_dead_lettered"] = self.counters.get(
                        "webhook_dead_lettered", 0) + len(batch)
                    log.warning("webhook %s: %d events dead-lettered after %d tries (%s)",
                                cfg.name, len(batch), attempt, error)
                    break
                delay = (min(cfg.retry_min * 2 ** min(attempt - 1, 30), cfg.retry_max)
                         * random.uniform(0.5, 1.5))
                await asyncio.sleep(min(delay, max(0.0, first_try + cfg.horizon - time.time())))
        finally:
            self._inflight -= 1
        if stands_for is not None:
            self._finished(stands_for)
        self._flush()
        self._wake.set()

    async def _post(self, webhook_id: str, body: bytes) -> tuple[str, str]:
        """One try: ("delivered" | "failed" | "gone", what went wrong)."""
        assert self._session is not None
        stamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": webhook_id,
                   "webhook-timestamp": str(stamp),
                   "user-agent": "smsengine-webhooks"}
        if self.keys:
            headers["webhook-signature"] = sign(self.keys, webhook_id, stamp, body)
        try:
            async with self._session.post(self.config.url, data=body, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return "delivered", ""
                if resp.status == 410:
                    return "gone", "410 Gone"
                return "failed", f"HTTP {resp.status}"
        except TimeoutError:
            return "failed", f"no answer within {self.config.timeout:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return "failed", f"{type(exc).__name__}: {exc}"

    def _finished(self, last: int) -> None:
        """A batch ending at ``last`` is done: the cursor moves over the batches done in a row
        from the oldest (batches are made, and kept here, in event order)."""
        self._done.add(last)
        passed = None  # the last batch moved over (not the one the move stops at)
        while self._batches:
            oldest = next(iter(self._batches))
            if oldest not in self._done:
                break
            del self._batches[oldest]
            self._done.discard(oldest)
            passed = oldest
        if passed is not None:
            self.cursor = passed
            self.events.set_cursor(self.config.name, passed)

    def _warn(self) -> None:
        backlog = self.backlog
        if backlog >= 100_000 and time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            log.warning("webhook %s: %d events not yet delivered (the receiver is slow or "
                        "down; they wait in the event log)", self.config.name, backlog)
