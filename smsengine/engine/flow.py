"""Flow control, sans-I/O: a token bucket counted in segments, and an AIMD rate controller.

Carriers bill and limit per segment, so a 3-part message takes three tokens. The controller cuts
the allowed rate multiplicatively when the carrier throttles (ESME_RTHROTTLED, ESME_RMSGQFUL) or
its responses slow down, and gives it back additively and gradually: the classic AIMD that
converges on what the carrier really accepts without oscillating wildly. Time is passed in.
"""

from __future__ import annotations

__all__ = ["AimdRate", "TokenBucket"]


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


class AimdRate:
    """The send rate a channel is allowed now, between ``floor`` and ``ceiling`` (its TPS).

    - throttle: ``rate *= decrease`` (at most once per ``cooldown`` seconds, so one burst of
      throttled responses counts once);
    - slow responses (latency EWMA above ``latency_limit``): the same cut;
    - otherwise recovery of ``ceiling * recovery`` per second, until the ceiling.
    """

    __slots__ = ("ceiling", "cooldown", "decrease", "floor", "last_cut", "last_update",
                 "latency", "latency_limit", "rate", "recovery", "state")

    def __init__(self, ceiling: float, now: float, *, floor: float = 1.0, decrease: float = 0.5,
                 recovery: float = 0.05, cooldown: float = 1.0,
                 latency_limit: float = 2.0) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.rate = ceiling
        self.decrease = decrease
        self.recovery = recovery
        self.cooldown = cooldown
        self.latency_limit = latency_limit
        self.latency = 0.0
        self.last_cut = -1e18
        self.last_update = now
        self.state = "open"

    def reset(self, ceiling: float, now: float) -> None:
        """Start over, at a new ceiling, with no cut and no latency history."""
        self.ceiling = ceiling
        self.floor = min(self.floor, ceiling)
        self.rate = ceiling
        self.latency = 0.0
        self.last_cut = -1e18
        self.last_update = now
        self.state = "open"

    def _cut(self, now: float, why: str) -> bool:
        if now - self.last_cut < self.cooldown:
            return False
        self.rate = max(self.floor, self.rate * self.decrease)
        self.last_cut = now
        self.last_update = now
        self.state = why
        return True

    def on_throttled(self, now: float) -> bool:
        """The carrier said slow down; True if the rate was cut."""
        return self._cut(now, "throttled")

    def on_response(self, latency: float, now: float) -> bool:
        """A response came after ``latency`` seconds; True if the rate was cut for it."""
        ewma = self.latency
        ewma = self.latency = latency if ewma == 0.0 else ewma * 0.9 + latency * 0.1
        if ewma > self.latency_limit:
            return self._cut(now, "slow")
        if self.rate < self.ceiling:
            self.recover(now)
        elif now > self.last_update:
            self.last_update = now  # (what recover() does at the ceiling, without the call)
        return False

    def recover(self, now: float) -> None:
        elapsed = now - self.last_update
        if elapsed <= 0:
            return
        self.last_update = now
        if self.rate < self.ceiling and now - self.last_cut >= self.cooldown:
            self.rate = min(self.ceiling, self.rate + self.ceiling * self.recovery * elapsed)
            self.state = "recovering" if self.rate < self.ceiling else "open"
