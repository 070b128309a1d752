"""The engine's flow control, with time passed in: the token bucket and the AIMD rate
controller."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

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


def feed(aimd: AimdRate, start: float, end: float, accepted: float,
         throttled: float = 0.0) -> None:
    """Answers evenly spread from ``start`` to ``end``: ``accepted`` and ``throttled`` a
    second, with recover() four times a second as the channel's tick would."""
    steps = round((end - start) * 100)
    owed_a = owed_t = 0.0
    for i in range(steps):
        now = start + i / 100
        owed_a += accepted / 100
        owed_t += throttled / 100
        while owed_a >= 1:
            owed_a -= 1
            aimd.on_response(0.01, now)
        while owed_t >= 1:
            owed_t -= 1
            aimd.on_throttled(now)
        if i % 25 == 0:
            aimd.recover(now)


def test_aimd_measures_before_its_first_cut_then_cuts_once_per_cooldown() -> None:
    aimd = AimdRate(100, now=0.0, cooldown=1.0)
    feed(aimd, 0.0, 2.0, accepted=100)
    # The first throttle: the carrier's burst is spent; what it takes from here is measured.
    assert not aimd.on_throttled(2.0)
    assert aimd.rate == 100
    feed(aimd, 2.0, 2.5, accepted=60, throttled=40)
    assert aimd.on_throttled(2.5)
    assert aimd.rate == pytest.approx(60, rel=0.1)  # what it took, not a half
    assert aimd.state == "throttled"
    # The rest of the same burst of throttled responses does not cut again.
    rate = aimd.rate
    for t in (2.6, 3.0, 3.49):
        assert not aimd.on_throttled(t)
    assert aimd.rate == rate


def test_aimd_never_goes_below_the_floor() -> None:
    aimd = AimdRate(100, now=0.0, floor=10, cooldown=0.0)
    for t in range(1, 20):
        aimd.on_throttled(float(t))
    assert aimd.rate == 10


def test_aimd_recovers_additively_to_the_ceiling() -> None:
    aimd = AimdRate(100, now=0.0, recovery=0.1, cooldown=1.0)
    aimd.on_throttled(0.0, goodput=50.0)  # (the caller measured what the carrier took)
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


# --- AimdRate: never below what the carrier takes (issue 21) ----------------------------------


def test_aimd_goodput_is_counted_from_the_throttling_on() -> None:
    """Before its first throttle a carrier may have been spending a burst: what it took then
    is not its rate."""
    aimd = AimdRate(1000, now=0.0)
    assert aimd.goodput(0.1) is None
    feed(aimd, 0.0, 1.0, accepted=500)
    assert not aimd.on_throttled(1.0)
    feed(aimd, 1.0, 1.5, accepted=100, throttled=400)
    assert aimd.goodput(1.5) == pytest.approx(100, rel=0.05)
    assert aimd.on_throttled(1.5)
    assert aimd.rate == pytest.approx(100, rel=0.05)


def test_aimd_cut_never_goes_below_the_goodput() -> None:
    """The carrier took 80 a second at 100: a throttle cuts to 80, not to 50."""
    aimd = AimdRate(100, now=0.0)
    feed(aimd, 0.0, 2.0, accepted=80, throttled=20)
    assert aimd.goodput(2.0) == pytest.approx(80, rel=0.05)
    assert aimd.rate == pytest.approx(80, rel=0.05)
    assert aimd.state == "throttled"


def test_aimd_throttle_at_the_edge_of_the_carriers_bucket_cuts_nothing() -> None:
    """Everything sent was accepted in the last second (the throttle came at the edge of the
    carrier's bucket): no cut."""
    aimd = AimdRate(100, now=0.0)
    feed(aimd, 0.0, 1.0, accepted=100)
    aimd.rate = 85.0  # (recovering after an earlier cut)
    assert not aimd.on_throttled(1.0)
    feed(aimd, 1.0, 1.6, accepted=90)
    assert not aimd.on_throttled(1.6)
    assert aimd.rate >= 85.0 and aimd.state != "throttled"


def test_aimd_floor_is_a_share_of_the_ceiling_or_the_absolute_minimum() -> None:
    assert AimdRate(100, now=0.0).floor == 10
    assert AimdRate(100, now=0.0, floor=25).floor == 25
    assert AimdRate(100, now=0.0, floor_share=0.0).floor == 1.0
    assert AimdRate(0.5, now=0.0).floor == 0.5  # never above the ceiling
    aimd = AimdRate(1000, now=0.0, cooldown=0.0)
    for t in range(1, 50):  # a carrier refusing everything
        aimd.on_throttled(float(t))
    assert aimd.rate == 100


# A carrier model, answering each segment sent at the controller's rate: True if accepted.
Carrier = Callable[[float], bool]


def refusing(share: float, seed: int = 1) -> Carrier:
    """Refuses ``share`` of the submits whatever the rate."""
    rng = random.Random(seed)
    return lambda now: rng.random() >= share


def limited(tps: float) -> Carrier:
    """A TPS limit: a token bucket of one second's worth (as the fake SMSC's)."""
    bucket = {"tokens": tps, "last": 0.0}

    def accept(now: float) -> bool:
        bucket["tokens"] = min(tps, bucket["tokens"] + (now - bucket["last"]) * tps)
        bucket["last"] = now
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
            return True
        return False

    return accept


def run(aimd: AimdRate, carrier: Carrier, seconds: float, start: float = 0.0,
        step: float = 0.005) -> tuple[list[tuple[float, float]], int, float]:
    """Send at ``aimd.rate`` for ``seconds`` (the channel's token bucket, simplified), the
    carrier answering each segment at once; recover() twice a second, as the channel's tick.
    Returns the (time, rate) of each step, the segments accepted, and the time at the end."""
    now, owed, accepted, next_tick = start, 0.0, 0, start
    rates = []
    while now < start + seconds:
        owed += aimd.rate * step
        while owed >= 1:
            owed -= 1
            if carrier(now):
                accepted += 1
                aimd.on_response(0.01, now)
            else:
                aimd.on_throttled(now)
        if now >= next_tick:
            aimd.recover(now)
            next_tick += 0.5
        rates.append((now, aimd.rate))
        now += step
    return rates, accepted, now


def test_aimd_under_a_refusal_that_does_not_depend_on_the_rate_keeps_sending() -> None:
    """Half of all submits refused whatever the rate (issue 21: AIMD halved every second down
    to 0.5 % of the ceiling). A cut that costs goodput in proportion is undone, the share is
    learned, and the channel sends near its ceiling: well over the 40 % of the unthrottled
    rate the campaign must reach."""
    ceiling = 1000.0
    aimd = AimdRate(ceiling, now=0.0)
    rates, accepted, _ = run(aimd, refusing(0.5), 30.0)
    unthrottled = ceiling * 30.0
    assert accepted >= 0.45 * unthrottled, accepted / unthrottled
    assert min(rate for _, rate in rates) >= 0.2 * ceiling
    assert aimd.state == "refusing"
    # Every relearn period the experiment is made again: a dip of a second or two, no more.
    low = [t for t, rate in rates if rate < 0.9 * ceiling]
    assert len(low) * 0.005 < 30.0 * 0.15


def test_aimd_under_a_tps_limit_converges_to_it() -> None:
    """Rate-dependent throttling (a TPS limit five times below the ceiling): cuts to what the
    carrier takes stand, and the rate settles within 10 % of the limit."""
    limit, ceiling = 40.0, 200.0
    aimd = AimdRate(ceiling, now=0.0)
    rates, _, _ = run(aimd, limited(limit), 30.0)
    assert aimd.state != "refusing"
    settled = [rate for t, rate in rates if t >= 10.0]
    mean = sum(settled) / len(settled)
    assert abs(mean - limit) <= 0.1 * limit, mean
    assert max(settled) <= 1.25 * limit


def test_aimd_cut_for_a_tps_limit_is_not_mistaken_for_a_fixed_refusal() -> None:
    """Far above the limit (100 times), each cut leaves the goodput whole: none is undone.
    (No floor share: 10 % of this ceiling would be above the limit.)"""
    aimd = AimdRate(4000.0, now=0.0, floor_share=0.0)
    rates, _, _ = run(aimd, limited(40.0), 10.0)
    assert aimd.state != "refusing"
    assert rates[-1][1] <= 1.25 * 40.0


def test_aimd_fixed_refusal_ending_gives_back_the_open_state() -> None:
    ceiling = 500.0
    aimd = AimdRate(ceiling, now=0.0)
    _, _, now = run(aimd, refusing(0.5), 8.0)
    assert aimd.state == "refusing"
    _, accepted, now = run(aimd, refusing(0.0), 10.0, start=now)
    assert aimd.state == "open" and aimd.rate == ceiling
    assert accepted >= 0.95 * ceiling * 10.0


def test_aimd_tps_limit_appearing_over_a_fixed_refusal_still_cuts() -> None:
    """A baseline of refusals was learned; then the carrier also limits the rate: the share
    refused rises above the baseline, and the rate comes down to the limit."""
    ceiling = 1000.0
    aimd = AimdRate(ceiling, now=0.0)
    _, _, now = run(aimd, refusing(0.3), 6.0)
    assert aimd.state == "refusing"
    share, limit = refusing(0.3, seed=2), limited(100.0)
    rates, _, _ = run(aimd, lambda t: share(t) and limit(t), 20.0, start=now)
    settled = [rate for t, rate in rates if t >= now + 10.0]
    assert sum(settled) / len(settled) <= 1.5 * 100.0 / 0.7


def test_aimd_reset_forgets_the_throttling() -> None:
    aimd = AimdRate(500.0, now=0.0)
    _, _, now = run(aimd, refusing(0.5), 4.0)
    aimd.reset(200.0, now)
    assert (aimd.rate, aimd.state, aimd.goodput(now + 0.1)) == (200.0, "open", None)


def windowed(aimd: AimdRate, carrier: Carrier, seconds: float, *, window: int,
             latency: tuple[float, float], seed: int, step: float = 0.005,
             ) -> tuple[list[tuple[float, float]], int]:
    """As a CMPP channel sends: paced by a token bucket of one second at ``aimd.rate``, at most
    ``window`` submits in flight, each answered ``latency`` (uniform, seeded) after it was
    sent, so answers to what went before a cut come after it. Returns the (time, rate) of each
    step and the segments accepted."""
    rng = random.Random(seed)
    bucket = TokenBucket(aimd.rate, aimd.ceiling, 0.0)
    in_flight: list[tuple[float, float]] = []  # (answered at, sent at), a heap
    now, accepted, next_tick = 0.0, 0, 0.0
    rates = []
    while now < seconds:
        while in_flight and in_flight[0][0] <= now:
            _, sent = heapq.heappop(in_flight)
            if carrier(now):
                accepted += 1
                aimd.on_response(now - sent, now)
            else:
                aimd.on_throttled(now)
        if aimd.rate != bucket.rate:
            bucket.set_rate(aimd.rate, now)
        while len(in_flight) < window and bucket.take(1, now):
            heapq.heappush(in_flight, (now + rng.uniform(*latency), now))
        if now >= next_tick:
            aimd.recover(now)
            next_tick += 0.5
        rates.append((now, aimd.rate))
        now += step
    return rates, accepted


@pytest.mark.parametrize("seed", range(12))
def test_aimd_with_a_cmpp_window_and_late_answers_keeps_sending_under_a_fixed_refusal(
        seed: int) -> None:
    """The chaos runs' CMPP channel (TPS 250, a window of 16, answers 50-100 ms late), half
    its submits refused whatever the rate: at least the 40 % of the unthrottled rate issue 21
    asks, and never more than a moment at the floor. Before the cuts were judged on what was
    really sent, after the answers in flight and on 50 answers, 3 of these 12 seeds (4, 7, 10)
    judged the refusal rate-dependent and stayed at the floor (25/s) from about 6 s on: 0.09 of
    the unthrottled rate, as the chaos run's 14.9 accepted/s. Now 0.40-0.45 (0.5 is the most
    possible)."""
    window, latency = 16, (0.05, 0.1)
    _, unthrottled = windowed(AimdRate(250.0, now=0.0), refusing(0.0), 30.0, window=window,
                              latency=latency, seed=seed)
    aimd = AimdRate(250.0, now=0.0)
    rates, accepted = windowed(aimd, refusing(0.5, seed), 30.0, window=window,
                               latency=latency, seed=seed)
    assert accepted >= 0.40 * unthrottled, accepted / unthrottled
    assert sum(1 for _, rate in rates if rate <= aimd.floor) * 0.005 < 2.0
    assert aimd.state == "refusing"


def test_aimd_with_a_cmpp_window_and_late_answers_converges_to_a_tps_limit() -> None:
    """The same channel against a TPS limit of 100: the cuts stand, within 10 % of it."""
    aimd = AimdRate(250.0, now=0.0)
    rates, _ = windowed(aimd, limited(100.0), 30.0, window=16, latency=(0.05, 0.1), seed=1)
    assert aimd.state != "refusing"
    settled = [rate for t, rate in rates if t >= 10.0]
    assert abs(sum(settled) / len(settled) - 100.0) <= 10.0
