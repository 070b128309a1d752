"""The correlation and suppression stores: one behavioural suite run against the memory and the
SQLite implementations, what only SQLite promises (restart, batching, shared file, errors), the
memory store's cap, and a model-based check that both agree with a plain reference."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine import sqlite as sqlite_mod
from smsengine.engine.sqlite import SqliteCorrelationStore, SqliteSuppressionStore, StoreError
from smsengine.engine.stores import (
    CorrelationRecord,
    CorrelationStore,
    MemoryCorrelationStore,
    MemorySuppressionStore,
    SuppressionStore,
)


def rec(message_id: str, expires_at: float = 100.0, *, channel: str = "ch1", ref: str = "",
        segment: int = 0, segments: int = 1, submitted_at: float = 1.5) -> CorrelationRecord:
    return CorrelationRecord(channel, message_id, ref or f"ref-{message_id}", segment, segments,
                             submitted_at, expires_at)


def _rows(path: Path, table: str) -> int:
    """Rows another connection (another process, a crash survivor) would see: committed ones."""
    with sqlite3.connect(path) as conn:
        count: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    conn.close()
    return count


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CorrelationStore]:
    s: CorrelationStore
    if request.param == "memory":
        s = MemoryCorrelationStore()
    else:
        s = SqliteCorrelationStore(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture(params=["memory", "sqlite"])
def suppression(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SuppressionStore]:
    s: SuppressionStore
    if request.param == "memory":
        s = MemorySuppressionStore()
    else:
        s = SqliteSuppressionStore(tmp_path / "store.db")
    yield s
    s.close()


# -- both correlation stores ---------------------------------------------------------------------

def test_put_then_pop_returns_the_record_once(store: CorrelationStore) -> None:
    r = rec("abc", ref="m1", segment=1, segments=3, submitted_at=10.25, expires_at=99.5)
    store.put(r)
    assert len(store) == 1
    assert store.pop("ch1", "abc") == r
    assert store.pop("ch1", "abc") is None
    assert len(store) == 0


def test_pop_unknown_and_other_channel(store: CorrelationStore) -> None:
    store.put(rec("abc"))
    assert store.pop("ch1", "nope") is None
    assert store.pop("ch2", "abc") is None  # the same id from another carrier is another record
    assert len(store) == 1


def test_same_id_on_two_channels_are_two_records(store: CorrelationStore) -> None:
    a, b = rec("7", channel="a", ref="x"), rec("7", channel="b", ref="y")
    store.put(a)
    store.put(b)
    assert len(store) == 2
    assert store.pop("b", "7") == b
    assert store.pop("a", "7") == a


def test_put_replaces_and_the_replacement_is_newest(store: CorrelationStore) -> None:
    store.put(rec("1", 50.0, ref="old"))
    store.put(rec("2", 50.0))
    store.put(rec("1", 50.0, ref="new"))
    assert len(store) == 2
    # Same expiry: put order breaks the tie, and the replacement counts as put last.
    assert [r.message_ref for r in store.expire(50.0)] == ["ref-2", "new"]
    assert len(store) == 0


def test_expire_is_by_expiry_not_by_insertion(store: CorrelationStore) -> None:
    # A channel with a long TTL submits first; a short-TTL channel's records must still expire.
    store.put(rec("long", 1000.0, channel="slow"))
    store.put(rec("s1", 20.0))
    store.put(rec("s0", 10.0))
    assert [r.message_id for r in store.expire(30.0)] == ["s0", "s1"]
    assert [r.message_id for r in store.expire(999.0)] == []
    assert [r.message_id for r in store.expire(1000.0)] == ["long"]


def test_expire_limit_takes_the_oldest_first(store: CorrelationStore) -> None:
    for i in range(10):
        store.put(rec(f"m{i}", float(100 - i)))
    assert [r.message_id for r in store.expire(200.0, limit=3)] == ["m9", "m8", "m7"]
    assert [r.message_id for r in store.expire(95.0, limit=100)] == ["m6", "m5"]
    assert store.expire(200.0, limit=0) == []
    assert len(store) == 5


def test_expire_skips_popped_records(store: CorrelationStore) -> None:
    for i in range(5):
        store.put(rec(f"m{i}", float(i)))
    store.pop("ch1", "m1")
    store.pop("ch1", "m3")
    assert [r.message_id for r in store.expire(10.0, limit=2)] == ["m0", "m2"]
    assert [r.message_id for r in store.expire(10.0)] == ["m4"]


def test_segment_states_roll_up_and_forget(store: CorrelationStore) -> None:
    assert store.set_segment_state("msg", 2, 3, 5) == {2: 5}
    assert store.set_segment_state("msg", 0, 3, 2) == {0: 2, 2: 5}
    assert store.set_segment_state("other", 0, 1, 8) == {0: 8}
    states = store.set_segment_state("msg", 2, 3, 6)  # a later receipt for the same segment
    assert states == {0: 2, 2: 6}
    states[1] = 99  # the caller's dict is its own
    assert store.set_segment_state("msg", 1, 3, 2) == {0: 2, 1: 2, 2: 6}
    store.forget("msg")
    store.forget("never-seen")
    assert store.set_segment_state("msg", 1, 3, 2) == {1: 2}
    assert store.set_segment_state("other", 0, 1, 8) == {0: 8}


def test_flush_and_close_are_safe_to_repeat(store: CorrelationStore) -> None:
    store.flush()
    store.put(rec("a"))
    store.flush()
    store.flush()
    store.close()
    store.close()


# -- both suppression stores ---------------------------------------------------------------------

def test_suppression_add_contains_remove(suppression: SuppressionStore) -> None:
    assert "8613800000000" not in suppression and len(suppression) == 0
    suppression.add("8613800000000", "replied 'T'", 1.0)
    suppression.add("8613800000000", "replied 'STOP'", 2.0)  # again: still one number
    suppression.add("447700900123", "manual", 3.0)
    assert "8613800000000" in suppression and "447700900123" in suppression
    assert len(suppression) == 2
    assert 8613800000000 not in suppression  # only strings are numbers here
    suppression.remove("8613800000000")
    suppression.remove("8613800000000")
    suppression.remove("never-added")
    assert "8613800000000" not in suppression and len(suppression) == 1


# -- the memory store's cap ----------------------------------------------------------------------

def test_memory_cap_evicts_oldest_and_expire_returns_them() -> None:
    store = MemoryCorrelationStore(max_records=3)
    for i in range(5):
        store.put(rec(f"m{i}", 1000.0 + i))
    assert len(store) == 3 and store.evicted == 2
    assert store.pop("ch1", "m0") is None
    # Evicted records end like expired ones, whatever the time, oldest first.
    assert [r.message_id for r in store.expire(0.0, limit=1)] == ["m0"]
    assert [r.message_id for r in store.expire(0.0)] == ["m1"]
    assert store.expire(0.0) == []
    assert [r.message_id for r in store.expire(2000.0)] == ["m2", "m3", "m4"]


def test_memory_cap_oldest_is_by_put_order_and_a_replace_is_new() -> None:
    store = MemoryCorrelationStore(max_records=2)
    store.put(rec("a"))
    store.put(rec("b"))
    store.put(rec("a", ref="again"))  # a is now the newest: b goes first
    store.put(rec("c"))
    assert [r.message_id for r in store.expire(0.0)] == ["b"]
    assert store.pop("ch1", "a") == rec("a", ref="again")


def test_memory_heap_stays_bounded_under_put_pop_churn() -> None:
    store = MemoryCorrelationStore()
    for i in range(10_000):
        store.put(rec(str(i), 1e9))
        store.pop("ch1", str(i))
    assert len(store) == 0
    assert len(store._heap) <= 2 * len(store) + 64 + 1


def test_memory_rejects_a_zero_cap() -> None:
    with pytest.raises(ValueError):
        MemoryCorrelationStore(max_records=0)


# -- SQLite: restart, batching, sharing ----------------------------------------------------------

def test_sqlite_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SqliteCorrelationStore(path) as store:
        store.put(rec("kept", 500.0, segment=1, segments=2))
        store.put(rec("gone", 500.0))
        store.pop("ch1", "gone")
        store.set_segment_state("ref-kept", 0, 2, 2)
        store.set_segment_state("done", 0, 1, 2)
        store.forget("done")
    with SqliteSuppressionStore(str(path)) as opt_outs:
        opt_outs.add("100", "T", 1.0)
        opt_outs.add("200", "T", 1.0)
        opt_outs.remove("200")
    with SqliteCorrelationStore(path) as store, SqliteSuppressionStore(path) as opt_outs:
        assert len(store) == 1
        assert store.pop("ch1", "kept") == rec("kept", 500.0, segment=1, segments=2)
        assert store.pop("ch1", "gone") is None
        assert store.set_segment_state("ref-kept", 1, 2, 5) == {0: 2, 1: 5}
        assert store.set_segment_state("done", 0, 1, 2) == {0: 2}
        assert "100" in opt_outs and "200" not in opt_outs and len(opt_outs) == 1
        assert opt_outs.entries() == [("100", "T", 1.0)]  # (what a cluster node merges)


def test_sqlite_writes_commit_every_interval_and_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteCorrelationStore(path, commit_interval=5)
    for i in range(4):
        store.put(rec(str(i)))
    assert _rows(path, "correlation") == 0  # a crash now would lose these four
    assert store.pop("ch1", "3") is not None  # the same connection sees its own batch
    # The pop was the fifth write, but a pop never commits by itself: what it means (the
    # message's status) is written next and must commit with it.
    assert _rows(path, "correlation") == 0
    store.put(rec("4"))  # the sixth: all committed
    assert _rows(path, "correlation") == 4  # 0, 1, 2 and 4
    store.put(rec("x"))
    assert store.pop("ch1", "x") is not None
    store.flush()
    assert _rows(path, "correlation") == 4
    store.put(rec("5"))
    store.close()
    assert _rows(path, "correlation") == 5


def test_sqlite_file_is_wal(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteCorrelationStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2  # (+ message_status)
    conn.close()


def test_both_stores_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteCorrelationStore(path, commit_interval=1000)
    opt_outs = SqliteSuppressionStore(path)
    store.put(rec("pending"))  # the correlation batch holds the write lock...
    opt_outs.add("100", "T", 1.0)  # ...and an opt-out must still be written at once
    assert _rows(path, "suppression") == 1
    assert _rows(path, "correlation") == 1  # committed along with it
    opt_outs.close()
    store.put(rec("after"))  # the correlation store outlives the other user of the file
    store.close()
    assert _rows(path, "correlation") == 2
    assert not sqlite_mod._OPEN


def test_sqlite_len_counts_after_reopen_and_replace(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SqliteCorrelationStore(path) as store:
        for i in range(7):
            store.put(rec(str(i), float(i)))
        store.put(rec("3", 50.0))
        assert len(store) == 7
        assert len(store.expire(2.0)) == 3
    with SqliteCorrelationStore(path) as store:
        assert len(store) == 4


def test_sqlite_memory_database(tmp_path: Path) -> None:
    with SqliteCorrelationStore(":memory:") as store:
        store.put(rec("a"))
        assert store.pop("ch1", "a") == rec("a")


# -- SQLite: clear errors ------------------------------------------------------------------------

def test_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "store.db"
    with pytest.raises(StoreError, match="does not exist") as info:
        SqliteCorrelationStore(path)
    assert isinstance(info.value, ValueError)
    assert info.value.retriable is False
    assert info.value.path == str(path) and str(path) in str(info.value)
    with pytest.raises(StoreError, match="does not exist"):
        SqliteSuppressionStore(path)
    assert not path.parent.exists()


def test_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        SqliteCorrelationStore(tmp_path)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("channels:\n  - name: cmcc\n" * 200)
    with pytest.raises(StoreError, match="not a SQLite database") as info:
        SqliteSuppressionStore(path)
    assert str(path) in str(info.value)
    assert path.read_text().startswith("channels:")  # left untouched
    assert not sqlite_mod._OPEN


def test_newer_schema_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteCorrelationStore(path)


def test_file_held_by_another_writer_is_a_store_error(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    SqliteCorrelationStore(path).close()
    monkeypatch.setattr(sqlite_mod, "_BUSY_TIMEOUT", 0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            SqliteCorrelationStore(path)
    finally:
        other.close()
    SqliteCorrelationStore(path).close()


def test_closed_store_is_a_store_error(tmp_path: Path) -> None:
    store = SqliteCorrelationStore(tmp_path / "store.db")
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.put(rec("a"))
    with pytest.raises(ValueError):
        SqliteCorrelationStore(tmp_path / "store.db", commit_interval=0)


# -- model-based: both stores agree with a plain reference ---------------------------------------

class _Reference:
    """What a correlation store means, written as plainly as possible (no cap)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[int, CorrelationRecord]] = {}
        self.segments: dict[str, dict[int, int]] = {}
        self.seq = 0

    def put(self, r: CorrelationRecord) -> None:
        self.seq += 1
        self.records[(r.channel, r.message_id)] = (self.seq, r)

    def pop(self, channel: str, message_id: str) -> CorrelationRecord | None:
        entry = self.records.pop((channel, message_id), None)
        return None if entry is None else entry[1]

    def expire(self, now: float, limit: int) -> list[CorrelationRecord]:
        due = sorted((r.expires_at, seq, key) for key, (seq, r) in self.records.items()
                     if r.expires_at <= now)[:max(0, limit)]
        return [self.records.pop(key)[1] for _, _, key in due]

    def set_segment_state(self, ref: str, segment: int, segments: int,
                          state: int) -> dict[int, int]:
        self.segments.setdefault(ref, {})[segment] = state
        return dict(self.segments[ref])

    def forget(self, ref: str) -> None:
        self.segments.pop(ref, None)

    def __len__(self) -> int:
        return len(self.records)

    def flush(self) -> None:
        return None


_channels = st.sampled_from(["a", "b"])
_ids = st.sampled_from(["1", "2", "3", "4", "5"])
_times = st.integers(0, 6).map(float)  # few distinct expiries: plenty of ties
_records = st.builds(CorrelationRecord, _channels, _ids, st.sampled_from(["m1", "m2"]),
                     st.integers(0, 3), st.integers(1, 4),
                     st.floats(0, 1e9, allow_nan=False), _times)
_ops = st.one_of(
    st.tuples(st.just("put"), _records),
    st.tuples(st.just("pop"), _channels, _ids),
    st.tuples(st.just("expire"), _times, st.integers(0, 4)),
    st.tuples(st.just("set_segment_state"), st.sampled_from(["m1", "m2"]), st.integers(0, 3),
              st.integers(1, 4), st.integers(0, 9)),
    st.tuples(st.just("forget"), st.sampled_from(["m1", "m2"])),
    st.tuples(st.just("flush")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ops, max_size=60), st.integers(1, 4))
def test_stores_agree_with_the_reference(ops: list[tuple[Any, ...]], commit_interval: int) -> None:
    reference = _Reference()
    memory = MemoryCorrelationStore()
    folder = tempfile.TemporaryDirectory()
    disk = SqliteCorrelationStore(Path(folder.name) / "s.db", commit_interval=commit_interval)
    try:
        for name, *args in ops:
            expected = getattr(reference, name)(*args)
            assert getattr(memory, name)(*args) == expected, (name, args)
            assert getattr(disk, name)(*args) == expected, (name, args)
            assert len(memory) == len(disk) == len(reference)
        assert memory.expire(1e18, 10_000) == disk.expire(1e18, 10_000) == \
            reference.expire(1e18, 10_000)
    finally:
        disk.close()
        folder.cleanup()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["1", "2", "3"])), max_size=30))
def test_suppression_stores_agree(ops: list[tuple[bool, str]]) -> None:
    memory = MemorySuppressionStore()
    disk = SqliteSuppressionStore(":memory:")
    try:
        for add, number in ops:
            for s in (memory, disk):
                if add:
                    s.add(number, "T", 0.0)
                else:
                    s.remove(number)
            assert len(memory) == len(disk)
            assert all((n in memory) == (n in disk) for n in "123")
    finally:
        disk.close()
