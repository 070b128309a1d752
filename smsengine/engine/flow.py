"""Flow control, sans-I/O: a token bucket counted in segments, and an AIMD rate controller.

Carriers bill and limit per segment, so a 3-part message takes three tokens. The controller cuts
the allowed rate when the carrier throttles (ESME_RTHROTTLED, ESME_RMSGQFUL, CMPP Result 8) or
its responses slow down, and gives it back additively and gradually: AIMD, converging on what
the carrier really accepts without oscillating wildly. Time is passed in.

A throttle cut never goes below the goodput, the segments the carrier accepted a second just
before, nor below a floor (10 % of the ceiling by default): sending slower than the carrier
takes only loses throughput. And some carriers refuse a fixed share of submits whatever the
rate; halving on each throttled second would then take the rate to the floor and the campaign
would never finish (issue 21: 0.5 % of the ceiling). A cut is therefore also an experiment: if
the goodput fell with the rate, in proportion, the refusals did not depend on the rate, the
cut is undone, and their share is learned as the carrier's baseline, at which throttles cut no
more (for ``relearn`` seconds, 30, then the experiment is made again). Under a TPS limit the
goodput holds when the rate is cut, and the cuts stand.

The experiment is judged on what was really sent, not on the rate asked for: the answers a
second before and after the cut give the fall in sends, and the share accepted is compared
with what each kind of carrier would give for that fall. Answers to submits sent before the
cut (in flight, twice the latency) are not counted, and the judgement waits for JUDGE_ANSWERS
answers, cutting nothing meanwhile. Judged on the paced rates, on the first answers after
half a second, a CMPP channel in the chaos runs (TPS 250, a window of 16) sometimes judged a
fixed 50 % refusal rate-dependent: the window and held-up sends made the real fall smaller than
the cut, answers in flight and too few answers made noise look like goodput kept, each wrong
judgement let the cut stand and the next cut start from it, and at the floor the experiment
never had its 20 answers, so the rate stayed there.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AimdRate", "TokenBucket", "TokenSource"]


class TokenSource(Protocol):
    """Where a channel's dispatcher takes its segment tokens: :class:`TokenBucket` on one node;
    on a cluster node, a source that also takes from the cluster-wide rate
    (``smsengine.cluster.ClusterBucket``). Synchronous, on the loop's clock: ``wait_time`` 0
    means ``take`` now may spend ``n``."""

    @property
    def rate(self) -> float: ...

    def wait_time(self, n: float, now: float) -> float: ...

    def take(self, n: float, now: float) -> bool: ...

    def set_rate(self, rate: float, now: float) -> None: ...

    def reset(self, rate: float, burst: float, now: float) -> None: ...


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. rate 0 = unlimited."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.last = now

    def _refill(self, now: float) -> None:
        if now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now

    def take(self, n: float, now: float) -> bool:
        """Take ``n`` tokens if there are that many (a message larger than the burst may take
        a full bucket)."""
        if self.rate <= 0:
            return True
        self._refill(now)
        need = min(n, self.burst)
        if self.tokens >= need:
            self.tokens -= n  # may go negative for a message bigger than the burst: it is paid
            return True
        return False

    def wait_time(self, n: float, now: float) -> float:
        """Seconds until ``n`` tokens are there (0 if now)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        need = min(n, self.burst) - self.tokens
        return max(0.0, need / self.rate)

    def reset(self, rate: float, burst: float, now: float) -> None:
        """Start over at ``rate`` with a full bucket of ``burst`` (a channel that starts or
        stops pacing itself)."""
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.last = now

    def set_rate(self, rate: float, now: float) -> None:
        """Change the rate. Tokens earned at the old rate are kept when it rises; when it falls
        (the carrier throttled us) the savings shrink in proportion, so a cut is not followed
        by a burst at the old speed."""
        self._refill(now)
        old = self.rate
        if 0 < rate < old:
            self.tokens = min(self.tokens, max(1.0, self.burst * rate / old))
        self.rate = rate


@dataclass(slots=True)
class _Probe:
    """A throttle cut under test: what was measured before it, and the counts after it."""

    at: float  # when the rate was cut
    before: float  # the rate before
    share: float  # share of the answers refused before
    answers: float  # answers a second before (accepted and refused: what was sent)
    counted: int  # the answers ``share`` is measured on
    ready: float  # answers to submits sent before the cut may come until then
    give_up: float  # the cut stands if not judged by then
    since: float = -1.0  # counting from (-1: not yet)
    accepted: int = 0  # the counts then
    refused: int = 0


class AimdRate:
    """The send rate a channel is allowed now, between :attr:`floor` and ``ceiling`` (its TPS).

    - throttle (at most one cut per ``cooldown`` seconds, so one burst of throttled responses
      counts once): the rate goes to the goodput of the last second, what the carrier took
      (``rate * decrease`` if that cannot be measured). The first cut of a throttling waits
      MIN_SPAN to measure it: the carrier's burst is spent by its first throttle, and what it
      takes after that is its rate. If a cut cost goodput in proportion, the throttle that
      completes its judgement (see :meth:`_judge`) undoes it (state ``refusing``) instead of
      cutting again; see the module docstring;
    - slow responses (latency EWMA above ``latency_limit``): ``rate *= decrease``;
    - otherwise recovery of ``ceiling * recovery`` per second, until the ceiling.

    :meth:`on_response` is to be called for each accepted segment (it counts the goodput) and
    :meth:`recover` regularly, a few times a second (it samples the counts).
    """

    __slots__ = ("_baseline", "_episode", "_probe", "_samples", "accepted", "ceiling",
                 "cooldown", "decrease", "floor_share", "last_cut", "last_update", "latency",
                 "latency_limit", "min_rate", "rate", "recovery", "refused", "relearn", "state")

    #: Seconds without a throttle after which the next one begins a new episode of throttling
    #: (with its own rate to come back to, and its own goodput measure).
    QUIET = 3.0
    #: Shortest stretch of counts a goodput or a refused share is measured over.
    MIN_SPAN = 0.5
    #: Fewest answers a share refused above the baseline is believed on.
    MIN_ANSWERS = 20
    #: Answers after a tested cut it is judged on. At a 50 % refusal the share accepted over
    #: them has a standard error of 0.07; a cut that halved the sends is kept if it rose from
    #: 0.5 past 0.75, half way to the 1.0 a TPS limit would give.
    JUDGE_ANSWERS = 50

    def __init__(self, ceiling: float, now: float, *, floor: float = 1.0,
                 floor_share: float = 0.1, decrease: float = 0.5, recovery: float = 0.05,
                 cooldown: float = 1.0, latency_limit: float = 2.0,
                 relearn: float = 30.0) -> None:
        self.ceiling = ceiling
        self.min_rate = floor
        self.floor_share = floor_share
        self.decrease = decrease
        self.recovery = recovery
        self.cooldown = cooldown
        self.latency_limit = latency_limit
        self.relearn = relearn
        self.accepted = 0  # segments accepted, counted by on_response
        self.refused = 0  # throttled responses, counted by on_throttled
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=16)
        self.reset(ceiling, now)

    @property
    def floor(self) -> float:
        """The lowest rate a cut may leave: ``floor``, or ``floor_share`` of the ceiling if
        that is more (never above the ceiling)."""
        return min(self.ceiling, max(self.min_rate, self.ceiling * self.floor_share))

    def reset(self, ceiling: float, now: float) -> None:
        """Start over, at a new ceiling, with no cut, no latency and no throttling history."""
        self.ceiling = ceiling
        self.rate = ceiling
        self.latency = 0.0
        self.last_cut = -1e18
        self.last_update = now
        self.state = "open"
        self._samples.clear()
        self._samples.append((now, self.accepted, self.refused))
        # (start, accepted, refused, rate then, last throttle) of the current throttling; the
        # cut being tested; the share of refusals found not to depend on the rate, and when.
        self._episode: tuple[float, int, int, float, float] | None = None
        self._probe: _Probe | None = None
        self._baseline: tuple[float, float] | None = None

    # --- counting ---------------------------------------------------------------------------

    def _sample(self, now: float) -> None:
        samples = self._samples
        if now - samples[-1][0] >= 0.25:
            samples.append((now, self.accepted, self.refused))

    def _since(self, start: float) -> tuple[float, int, int]:
        """The counts as they were at ``start`` or just before (the oldest kept, if older)."""
        found = self._samples[0]
        for sample in self._samples:
            if sample[0] > start:
                break
            found = sample
        return found

    def _rates(self, start: float, now: float) -> tuple[float, float, int, float] | None:
        """(accepted per second, share of responses refused, responses, responses per second)
        from about ``start`` to ``now``; None over less than MIN_SPAN or without a
        response."""
        t, accepted, refused = self._since(start)
        episode = self._episode
        if episode is not None and t < episode[0] <= start:
            t, accepted, refused = episode[:3]  # (exact, kept at its start)
        elif t < start - self.MIN_SPAN:
            return None  # (no count near enough: recover() has not been sampling)
        span = now - t
        accepted = self.accepted - accepted
        answered = accepted + self.refused - refused
        if span < self.MIN_SPAN or not answered:
            return None
        return accepted / span, 1.0 - accepted / answered, answered, answered / span

    def goodput(self, now: float) -> float | None:
        """Segments accepted a second over the last second or so (since the throttling began,
        if that is less: before, the carrier may have been spending a burst); None when not
        known."""
        start = now - self.cooldown
        if self._episode is not None:
            start = max(start, self._episode[0])
        rates = self._rates(start, now)
        return None if rates is None else rates[0]

    # --- events -------------------------------------------------------------------------------

    def _cut(self, now: float, why: str) -> bool:
        if now - self.last_cut < self.cooldown:
            return False
        self.rate = max(self.floor, self.rate * self.decrease)
        self.last_cut = now
        self.last_update = now
        self.state = why
        return True

    def on_throttled(self, now: float, goodput: float | None = None) -> bool:
        """The carrier said slow down; True if the rate was cut. ``goodput``: what the carrier
        took a second lately, when the caller measured it (else it is measured here)."""
        self.refused += 1
        self._sample(now)
        episode = self._episode
        if episode is None or now - episode[4] > self.QUIET:
            # The carrier's burst, if it has one, is spent by the first throttle: goodput
            # counted from here on is its rate.
            episode = self._episode = (now, self.accepted, self.refused - 1, self.rate, now)
            self._probe = None
        else:
            self._episode = (*episode[:4], now)
        probe = self._probe
        if probe is not None:
            undone = self._judge(probe, now)
            if undone is None:
                return False  # (the cut is still being judged: no other meanwhile)
            self._probe = None
            if undone:
                return False
        if now - self.last_cut < self.cooldown:
            return False
        if goodput is None and now - episode[0] < self.MIN_SPAN:
            return False  # (too early to tell what the carrier takes: measured first)
        baseline = self._baseline
        if baseline is not None:
            if now - baseline[1] > self.relearn:
                self._baseline = None  # (the carrier may have changed: cut, and see again)
            else:
                rates = self._rates(now - self.cooldown, now)
                if (rates is None or rates[2] < self.MIN_ANSWERS
                        or rates[1] <= baseline[0] * 1.25 + 0.05):
                    # Its usual refusals (or too few answers to tell them from more): cutting
                    # would not lessen them.
                    return False
        return self._throttle_cut(now, goodput)

    def _throttle_cut(self, now: float, goodput: float | None) -> bool:
        if goodput is None:
            goodput = self.goodput(now)
        rate = self.rate
        target = max(self.floor, rate * self.decrease if goodput is None else goodput)
        if target >= rate:
            return False  # it took all we sent: a throttle at the edge of its bucket
        # Test the cut (see _undo) if it is large enough to tell, and the goodput before it was
        # measured inside this throttling (not inflated by the carrier's burst).
        episode = self._episode
        assert episode is not None
        if target <= 0.8 * rate and now - episode[0] >= self.MIN_SPAN:
            before = self._rates(max(episode[0], now - self.cooldown), now)
            if before is not None and before[0] > 0:
                # Answers to what was sent before the cut come within about twice the
                # latency; then JUDGE_ANSWERS answers at the new rate, with time to spare.
                ready = now + 2.0 * self.latency
                wait = max(3.0 * max(self.cooldown, self.MIN_SPAN),
                           2.0 * self.JUDGE_ANSWERS / target)
                self._probe = _Probe(now, rate, before[1], before[3], before[2], ready,
                                     ready + min(wait, self.relearn))
        self.rate = target
        self.last_cut = now
        self.last_update = now
        self.state = "throttled"
        return True

    def _judge(self, probe: _Probe, now: float) -> bool | None:
        """A throttle while a cut is tested: None while its answers are still being counted;
        True if it was undone: the share accepted did not rise as it would under a TPS limit
        for the fall in sends measured (then the throttling does not depend on the rate: the
        rate goes back, and the share refused becomes the baseline); False if the cut stands
        (also when the share refused rose beyond chance: the carrier changed meanwhile, when
        the sends did not fall, or when it could not be judged in time)."""
        if now > probe.give_up:
            return False
        if probe.since < 0.0:
            if now >= probe.ready:
                probe.since, probe.accepted, probe.refused = now, self.accepted, self.refused
            return None
        accepted = self.accepted - probe.accepted
        answered = accepted + self.refused - probe.refused
        span = now - probe.since
        if answered < self.JUDGE_ANSWERS or span < self.MIN_SPAN:
            return None
        share = 1.0 - accepted / answered
        # The fall in what was sent: the rate asked for is not what went (a full window, or
        # sends held up and then made from saved tokens).
        k = answered / span / probe.answers
        if k >= 0.9:
            return False  # (the sends did not fall: nothing to tell, as for a small cut)
        kept = 1.0 - probe.share
        # Under a TPS limit the carrier would have taken as much as before, a larger share of
        # fewer sends (kept / k); a refusal that does not depend on the rate keeps the share.
        # Half way between decides: a cut wrongly undone is made again at the next throttle
        # above the baseline, while one wrongly kept is the next cut's starting point.
        limited = min(1.0, kept / k)
        if 1.0 - share > (kept + limited) / 2:
            return False
        pooled = (probe.share * probe.counted + share * answered) / (probe.counted + answered)
        noise = math.sqrt(pooled * (1.0 - pooled) * (1.0 / probe.counted + 1.0 / answered))
        if share > probe.share + 3.0 * noise + 0.05:
            return False
        self.rate = min(self.ceiling, max(self.rate, probe.before))
        self._baseline = (share, now)
        self.last_update = now
        self.state = "refusing"
        return True

    def on_response(self, latency: float, now: float) -> bool:
        """A segment was accepted after ``latency`` seconds; True if the rate was cut for
        it."""
        self.accepted += 1
        ewma = self.latency
        ewma = self.latency = latency if ewma == 0.0 else ewma * 0.9 + latency * 0.1
        if ewma > self.latency_limit:
            return self._cut(now, "slow")
        if self.rate < self.ceiling:
            self.recover(now)
        elif now > self.last_update:
            self.last_update = now  # (what recover() does at the ceiling, without the call)
        return False

    def _refusing(self, now: float) -> bool:
        """A baseline of refusals was learned and they go on."""
        return (self._baseline is not None and self._episode is not None
                and now - self._episode[4] <= self.QUIET)

    def recover(self, now: float) -> None:
        self._sample(now)
        probe = self._probe
        if probe is not None:
            # A tested cut is judged here too (under a TPS limit the throttles may stop), and
            # holds meanwhile: a rate climbing back would blur what the cut did.
            if self._judge(probe, now) is None:
                self.last_update = now
                return
            self._probe = None
        if self.state == "refusing" and self.rate >= self.ceiling and not self._refusing(now):
            self.state = "open"  # (the refusals have stopped)
        elapsed = now - self.last_update
        if elapsed <= 0:
            return
        self.last_update = now
        if self.rate < self.ceiling and now - self.last_cut >= self.cooldown:
            self.rate = min(self.ceiling, self.rate + self.ceiling * self.recovery * elapsed)
            if self.rate < self.ceiling:
                self.state = "recovering"
            else:
                self.state = "refusing" if self._refusing(now) else "open"
