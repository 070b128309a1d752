"""The engine's flow control, with time passed in: the token bucket and the AIMD rate
controller."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsengine.engine.flow import AimdRate, TokenBucket

# --- TokenBucket ------------------------------------------------------------------------------


def test_bucket_starts_full_and_refuses_when_empty() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert all(bucket.take(1, 0.0) for _ in range(5))
    assert not bucket.take(1, 0.0)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.1)
    assert bucket.wait_time(3, 0.0) == pytest.approx(0.3)


def test_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert bucket.take(5, 0.0)
    assert not bucket.take(1, 0.05)  # half a token
    assert bucket.take(1, 0.1)
    assert bucket.wait_time(1, 0.1) == pytest.approx(0.1)
    # A long pause saves up at most the burst.
    assert bucket.wait_time(5, 100.0) == 0.0
    assert bucket.take(5, 100.0)
    assert not bucket.take(1, 100.0)


def test_bucket_counts_segments_and_a_message_bigger_than_the_burst_is_paid_for() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    # A 5-part message waits only for a full bucket, then leaves the bucket 2 in debt.
    assert bucket.wait_time(5, 0.0) == 0.0
    assert bucket.take(5, 0.0)
    assert bucket.tokens == pytest.approx(-2)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.3)
    assert not bucket.take(1, 0.29)
    assert bucket.take(1, 0.31)


def test_bucket_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=0, now=0.0)
    assert all(bucket.take(10, 0.0) for _ in range(1000))
    assert bucket.wait_time(10**6, 0.0) == 0.0


def test_bucket_rate_rise_keeps_the_tokens_earned_at_the_old_rate() -> None:
    bucket = TokenBucket(rate=10, burst=10, now=0.0)
    assert bucket.take(10, 0.0)
    bucket.set_rate(20, 0.5)  # 5 tokens earned at 10/s before the change
    assert bucket.take(5, 0.5)
    assert bucket.wait_time(1, 0.5) == pytest.approx(1 / 20)


def test_bucket_rate_cut_shrinks_the_savings_so_no_burst_follows_a_throttle() -> None:
    bucket = TokenBucket(rate=100, burst=100, now=0.0)  # a full bucket: 100 saved
    bucket.set_rate(10, 0.0)  # throttled: cut to a tenth
    assert bucket.tokens == pytest.approx(10)  # a tenth of the savings
    assert bucket.take(10, 0.0)
    assert not bucket.take(1, 0.0)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.1)  # then the new rate
    bucket.set_rate(1, 0.0)
    assert bucket.tokens <= 1.0


@given(st.floats(1, 1000), st.floats(1, 100),
       st.lists(st.tuples(st.floats(0, 0.5), st.integers(1, 4)), max_size=200))
def test_bucket_never_admits_more_than_burst_plus_rate_times_elapsed(
        rate: float, burst: float, steps: list[tuple[float, int]]) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    now = 0.0
    taken = 0.0
    largest = 0
    for dt, n in steps:
        now += dt
        if bucket.take(n, now):
            taken += n
            largest = max(largest, n)
        # Beyond the budget only the debt of a message larger than the bucket, which is paid
        # back before anything else goes.
        assert taken <= max(burst, 1.0) + rate * now + max(0.0, largest - burst) + 1e-6

# --- AimdRate ---------------------------------------------------------------------------------


def test_aimd_cuts_on_throttle_once_per_cooldown() -> None:
    aimd = AimdRate(100, now=0.0, decrease=0.5, cooldown=1.0)
    assert aimd.rate == 100
    assert aimd.on_throttled(10.0)
    assert aimd.rate == 50
    assert aimd.state == "throttled"
    # The rest of the same burst of throttled responses does not cut again.
    for t in (10.1, 10.5, 10.99):
        assert not aimd.on_throttled(t)
    assert aimd.rate == 50
    assert aimd.on_throttled(11.0)
    assert aimd.rate == 25


def test_aimd_never_goes_below_the_floor() -> None:
    aimd = AimdRate(100, now=0.0, floor=10, cooldown=0.0)
    for t in range(1, 20):
        aimd.on_throttled(float(t))
    assert aimd.rate == 10


def test_aimd_recovers_additively_to_the_ceiling() -> None:
    aimd = AimdRate(100, now=0.0, recovery=0.1, cooldown=1.0)
    aimd.on_throttled(0.0)
    assert aimd.rate == 50
    aimd.recover(0.5)  # within the cooldown: no recovery yet
    assert aimd.rate == 50
    aimd.recover(2.0)  # 1.5 s since the last update at 10/s
    assert aimd.rate == pytest.approx(65)
    assert aimd.state == "recovering"
    aimd.recover(3.0)  # linear, not multiplicative: +10 per second
    assert aimd.rate == pytest.approx(75)
    aimd.recover(3.0)  # no time passed: nothing
    assert aimd.rate == pytest.approx(75)
    aimd.recover(1000.0)
    assert aimd.rate == 100  # capped at the ceiling
    assert aimd.state == "open"


def test_aimd_cuts_when_responses_get_slow_but_not_for_one_slow_response() -> None:
    aimd = AimdRate(100, now=0.0, latency_limit=1.0, cooldown=1.0, recovery=0.1)
    for i in range(10):
        assert not aimd.on_response(0.1, i * 0.1)
    assert not aimd.on_response(5.0, 1.0)  # the average moves to 0.59
    assert aimd.rate == 100
    cut = False
    t = 1.0
    while not cut:
        t += 0.1
        cut = aimd.on_response(5.0, t)
        assert t < 3, "a sustained latency above the limit must cut the rate"
    assert aimd.rate == 50
    assert aimd.state == "slow"
    # Fast again: the average falls under the limit and the rate comes back.
    for _ in range(100):
        t += 0.1
        aimd.on_response(0.01, t)
    assert aimd.latency < 1.0
    assert aimd.rate == 100


def test_aimd_first_response_sets_the_latency_average() -> None:
    aimd = AimdRate(100, now=0.0, latency_limit=1.0)
    assert aimd.on_response(3.0, 0.0)  # one response is all we know
    assert aimd.rate == 50
