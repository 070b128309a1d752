"""Frequency caps across nodes on Redis: the same sliding log as
:mod:`smsengine.policy.caps`, kept in Redis so that "1 OTP a minute per number" holds whichever
node accepts the message.

Each subject (scope, kind, subject) is a list ``<prefix>:cap:{caps}:<scope> <kind> <subject>``
of its last send times (seconds, Redis's ``TIME``: one clock for every node), oldest first,
trimmed to the largest limit of its rules and expiring one longest window (and a second) after
the last send. One script checks every scope of a message and, when none refuses, records it
in all of them, so two nodes cannot both take the last send of a window. A rule
``(window, limit)`` refuses iff the ``limit``-th most recent time is after ``now - window``,
exactly as :meth:`~smsengine.policy.FrequencyCaps.check`; of several scopes the first that
refuses answers, and within it the rule that frees last. ``{caps}`` is one hash tag, so the
script's keys share a Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from ._redis import Script, redis_errors
from .config import ClusterConfig

__all__ = ["CapsRefused", "SharedCaps"]

_TAKE = Script("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local pos, specs = 1, {}
for i = 1, #KEYS do
  local n = tonumber(ARGV[pos]); pos = pos + 1
  local rules = {}
  for j = 1, n do
    rules[j] = {tonumber(ARGV[pos]), tonumber(ARGV[pos + 1])}; pos = pos + 2
  end
  specs[i] = rules
end
for i = 1, #KEYS do
  local times = redis.call('LRANGE', KEYS[i], 0, -1)
  local n = #times
  local free, window, limit = now, 0, 0
  for _, r in ipairs(specs[i]) do
    if n >= r[2] then
      local f = tonumber(times[n - r[2] + 1]) + r[1]
      if f > now and f >= free then free, window, limit = f, r[1], r[2] end
    end
  end
  if limit > 0 then
    return {i, tostring(window), limit, tostring(free), tostring(now)}
  end
end
local stamp = string.format('%.6f', now)
for i = 1, #KEYS do
  local longest, largest = 0, 0
  for _, r in ipairs(specs[i]) do
    if r[1] > longest then longest = r[1] end
    if r[2] > largest then largest = r[2] end
  end
  redis.call('RPUSH', KEYS[i], stamp)
  redis.call('LTRIM', KEYS[i], -largest, -1)
  redis.call('PEXPIRE', KEYS[i], math.ceil(longest * 1000) + 1000)
end
return {0, tostring(now)}
""")


class CapsRefused:
    """Which subject (its index in the call) and rule refused, when it frees, Redis's now."""

    __slots__ = ("frees_at", "index", "limit", "now", "window")

    def __init__(self, index: int, window: float, limit: int, frees_at: float,
                 now: float) -> None:
        self.index = index
        self.window = window
        self.limit = limit
        self.frees_at = frees_at
        self.now = now


class SharedCaps:
    """See the module docstring. Raises :class:`~smsengine.cluster.ClusterUnavailable` when
    Redis is not there."""

    def __init__(self, client: aioredis.Redis, config: ClusterConfig) -> None:
        self.client = client
        self.config = config
        self.round_trips = 0

    def key(self, scope: str, kind: str, subject: str) -> str:
        return self.config.key("cap", "{caps}", f"{scope} {kind} {subject}")

    async def take(self, subjects: Sequence[tuple[str, Sequence[tuple[float, int]]]]
                   ) -> CapsRefused | None:
        """``subjects``: (key, rules as (window, limit)) per scope. None: allowed and counted in
        every one; else the refusal (nothing counted)."""
        if not subjects:
            return None
        args: list[str | int | float] = []
        for _, rules in subjects:
            args.append(len(rules))
            for window, limit in rules:
                args += [repr(float(window)), int(limit)]
        async with redis_errors(self.config, "frequency caps"):
            got: Any = await _TAKE(self.client, [k for k, _ in subjects], args)
        self.round_trips += 1
        if int(got[0]) == 0:
            return None
        return CapsRefused(int(got[0]) - 1, float(got[1]), int(got[2]), float(got[3]),
                           float(got[4]))
