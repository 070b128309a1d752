"""Frequency caps: the default OTP rules hit and freed on an injected clock, refusals naming
their rule, other scopes, a model-based check against a brute-force count of every window,
and the counter stores (a restart, the open transaction, pruning, the memory cap)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.engine.sqlite import SqliteCorrelationStore
from smsengine.engine.stores import CorrelationRecord
from smsengine.policy import (
    MAX_LIMIT,
    CapRule,
    CounterStore,
    FrequencyCaps,
    MemoryCounterStore,
    SqliteCounterStore,
    check_all,
)

NUMBER = "8613800138000"
T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounterStore()
    else:
        s = SqliteCounterStore(tmp_path / "engine.db")
        yield s
        s.close()


def test_the_default_otp_caps_one_a_minute_five_an_hour_ten_a_day(store: CounterStore) -> None:
    caps = FrequencyCaps(store=store)
    assert caps.take(NUMBER, "otp", T0) is None
    refusal = caps.take(NUMBER, "otp", T0 + 30)
    assert refusal is not None
    assert (refusal.rule, refusal.retry_after, refusal.frees_at) == (CapRule(60, 1), 30, T0 + 60)
    assert refusal.describe() == ("at most 1 otp message per minute to this number; frees in "
                                  "30 s")
    assert caps.check(NUMBER, "otp", T0 + 59.999) is not None
    assert caps.check(NUMBER, "otp", T0 + 60) is None  # frees exactly when it said
    for i in range(1, 5):
        assert caps.take(NUMBER, "otp", T0 + 60 * i) is None
    hour = caps.take(NUMBER, "otp", T0 + 300)
    assert hour is not None and hour.rule == CapRule(3600, 5)
    assert hour.frees_at == T0 + 3600 and "5 otp messages per hour" in hour.describe()
    for i in range(5):
        assert caps.take(NUMBER, "otp", T0 + 3600 + 60 * i) is None
    day = caps.take(NUMBER, "otp", T0 + 7200)
    assert day is not None and day.rule == CapRule(86400, 10) and day.frees_at == T0 + 86400
    assert caps.check(NUMBER, "otp", T0 + 86400) is None
    assert caps.check("8613900139000", "otp", T0 + 30) is None  # another number


def test_a_refusal_names_the_rule_that_frees_last() -> None:
    caps = FrequencyCaps({"otp": [(60, 1), (3600, 2)]})
    caps.take(NUMBER, "otp", 0.0)
    caps.take(NUMBER, "otp", 3000.0)
    refusal = caps.check(NUMBER, "otp", 3010.0)  # both refuse: the minute's frees at 3060
    assert refusal is not None and refusal.rule == CapRule(3600, 2)
    assert refusal.frees_at == 3600.0


def test_kinds_without_rules_are_not_capped_and_kinds_fold_case() -> None:
    caps = FrequencyCaps()
    for i in range(100):
        assert caps.take(NUMBER, "marketing", float(i)) is None
    assert caps.take(NUMBER, "OTP", 0.0) is None
    assert caps.take(NUMBER, "otp", 1.0) is not None
    custom = FrequencyCaps({"Marketing": [CapRule(86400, 1)]})
    assert custom.take(NUMBER, "marketing", 0.0) is None
    assert custom.take(NUMBER, "marketing", 100.0) is not None
    assert custom.take(NUMBER, "otp", 100.0) is None


@pytest.mark.parametrize("rule", [(0, 1), (-5, 1), (60, 0), (60, MAX_LIMIT + 1),
                                  (float("inf"), 1), (float("nan"), 1)])
def test_bad_rules_are_refused(rule: tuple[float, int]) -> None:
    with pytest.raises(ValueError, match="cap's"):
        FrequencyCaps({"otp": [rule]})


def test_api_key_and_source_ip_caps_are_the_same_mechanism_under_another_scope() -> None:
    store = MemoryCounterStore()
    by_number = FrequencyCaps(store=store)
    by_key = FrequencyCaps({"otp": [(60, 2)]}, store, scope="api_key")
    by_ip = FrequencyCaps({"otp": [(60, 3)]}, store, scope="source_ip")

    def send(number: str, now: float) -> str | None:
        checks = [(by_number, number), (by_key, "key-1"), (by_ip, "10.0.0.1")]
        refusal = check_all(checks, "otp", now)
        if refusal is not None:
            return refusal.scope
        for caps, subject in checks:
            caps.record(subject, "otp", now)
        return None

    assert send("8613800000001", 0.0) is None
    assert send("8613800000001", 1.0) == "number"  # the number's refusal used no key quota
    assert send("8613800000002", 2.0) is None
    refused = check_all([(by_key, "key-1")], "otp", 3.0)
    assert refused is not None and refused.describe().endswith("to this api key; frees in 57 s")
    assert send("8613800000003", 3.0) == "api_key"
    assert by_ip.check("10.0.0.1", "otp", 3.0) is None  # 2 of 3: the key refused first


def test_a_clock_that_steps_back_keeps_counting() -> None:
    caps = FrequencyCaps({"otp": [(60, 2)]})
    caps.take(NUMBER, "otp", 100.0)
    assert caps.take(NUMBER, "otp", 90.0) is None
    refusal = caps.check(NUMBER, "otp", 95.0)
    assert refusal is not None and refusal.frees_at == 150.0


# -- the model: at most `limit` in any window, and refused only when a window is full ---------

_RULES = st.lists(st.tuples(st.sampled_from([1.0, 5.0, 60.0, 90.0, 3600.0]),
                            st.integers(1, 6)), min_size=1, max_size=3)
_GAPS = st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(_RULES, _GAPS)
def test_caps_allow_exactly_what_every_window_has_room_for(rules: list[tuple[float, int]],
                                                           gaps: list[float]) -> None:
    caps = FrequencyCaps({"otp": rules})
    sent: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        # the reference: the number of sends in (now - window, now] for each rule (written
        # t + window > now, as the caps do, so that float rounding agrees)
        full = [(w, n) for w, n in rules if sum(1 for t in sent if t + w > now) >= n]
        refusal = caps.take(NUMBER, "otp", now)
        assert (refusal is None) == (not full)
        if refusal is None:
            sent.append(now)
        else:
            assert refusal.frees_at > now
            assert (refusal.rule.window, refusal.rule.limit) in full
            assert caps.check(NUMBER, "otp", refusal.frees_at) is None
    for window, limit in rules:  # no window of any position holds more than the limit
        for i, start in enumerate(sent):
            assert sum(1 for t in sent[i:] if t < start + window) <= limit


# -- the stores ------------------------------------------------------------------------------------

def test_sqlite_counters_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    with SqliteCounterStore(path) as store:
        caps = FrequencyCaps(store=store)
        for i in range(5):
            assert caps.take(NUMBER, "otp", T0 + 60 * i) is None
    with SqliteCounterStore(path) as store:
        caps = FrequencyCaps(store=store)
        refusal = caps.take(NUMBER, "otp", T0 + 600)
        assert refusal is not None and refusal.rule == CapRule(3600, 5)
        assert refusal.frees_at == T0 + 3600
        assert caps.take(NUMBER, "otp", T0 + 3600) is None


def test_sqlite_counter_writes_join_the_open_transaction(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"

    def committed() -> int:
        with sqlite3.connect(path) as other:
            n: int = other.execute("SELECT count(*) FROM cap_counter").fetchone()[0]
        other.close()
        return n

    correlation = SqliteCorrelationStore(path, commit_interval=1000)
    store = SqliteCounterStore(path)
    try:
        caps = FrequencyCaps(store=store)
        correlation.put(CorrelationRecord("ch", "m1", "r1", 0, 1, 1.0, 100.0))
        caps.record(NUMBER, "otp", T0)
        assert committed() == 0  # in the engine's open transaction, not yet on disk
        assert caps.check(NUMBER, "otp", T0 + 1) is not None  # but read back at once
        correlation.flush()  # the engine's housekeeping commit takes it along
        assert committed() == 1
        caps.record("8613900139000", "otp", T0)
    finally:
        store.close()
        correlation.close()
    assert committed() == 2  # and close commits


def test_rows_are_pruned_once_their_sends_leave_every_window(store: CounterStore) -> None:
    caps = FrequencyCaps(store=store)
    for i in range(50):
        caps.record(f"86138{i:08d}", "otp", T0 + i)
    assert len(store) == 50  # type: ignore[arg-type]
    assert caps.prune(T0 + 86400 + 9.5) == 10  # sent at T0 .. T0+9: their day is over
    assert caps.prune(T0 + 86400 + 100, limit=15) == 15
    assert len(store) == 25  # type: ignore[arg-type]
    assert caps.check("86138" + "0" * 7 + "0", "otp", T0 + 86400 + 100) is None
    assert caps.prune(T0 + 10 * 86400) == 25 and len(store) == 0  # type: ignore[arg-type]


def test_the_log_keeps_only_what_a_rule_can_still_count(store: CounterStore) -> None:
    caps = FrequencyCaps({"otp": [(60, 2), (3600, 3)]}, store)
    for i in range(10):
        caps.record(NUMBER, "otp", 1000.0 * i)
    assert store.times(f"number otp {NUMBER}") == (7000.0, 8000.0, 9000.0)  # last 3, in the hour
    caps.record(NUMBER, "otp", 20000.0)
    assert store.times(f"number otp {NUMBER}") == (20000.0,)


def test_the_memory_store_is_bounded_and_forgets_the_soonest_to_expire_first() -> None:
    store = MemoryCounterStore(max_keys=3)
    caps = FrequencyCaps({"otp": [(60, 1)], "marketing": [(86400, 1)]}, store)
    caps.record("a", "marketing", 0.0)  # kept until 86400
    caps.record("b", "otp", 0.0)  # until 60
    caps.record("c", "otp", 10.0)  # until 70
    caps.record("d", "otp", 20.0)  # until 80: b goes
    assert len(store) == 3
    assert caps.check("b", "otp", 30.0) is None
    assert caps.check("a", "marketing", 30.0) is not None
    for i in range(10_000):  # the heap of expiries stays near the number of keys
        caps.record("c", "otp", 100.0 + i)
    assert len(store._heap) <= 2 * 3 + 1024 + 1
    with pytest.raises(ValueError):
        MemoryCounterStore(max_keys=0)
