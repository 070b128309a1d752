"""The cluster's suppression list (opt-outs) on Redis: one list shared by every node.

Each node keeps its own store (SQLite) as the record it checks; Redis holds the cluster's copy
and a log of changes, so that an opt-out made on one node reaches every other within its next
poll, and a node starting or reconnecting merges the two.

- ``<prefix>:suppressed:{opt-out}``: a hash, number -> ``"<at>|<reason>"``;
- ``<prefix>:unsuppressed:{opt-out}``: a hash, number -> ``<at>`` of its removal (a tombstone,
  so that a node that was away does not put a removed number back when it merges);
- ``<prefix>:optout-log:{opt-out}``: a stream of applied changes (``op`` a/r, ``n``, ``at``,
  ``r`` reason, ``node``), trimmed to about ``MAXLEN`` entries.

One script applies a batch of changes: the later ``at`` wins between an addition and a removal
of one number (an addition on a tie: erring towards suppression), and only what was applied is
logged. The hash tag ``{opt-out}`` keeps the three keys in one Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from ._redis import Script, redis_errors
from .config import ClusterConfig

__all__ = ["Change", "SharedSuppression"]

_APPLY = Script("""
local sup, unsup, log = KEYS[1], KEYS[2], KEYS[3]
local node, maxlen = ARGV[1], ARGV[2]
local applied = 0
for i = 3, #ARGV, 4 do
  local op, n, at, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local t = tonumber(at)
  local ok = true
  if op == 'a' then
    local gone = redis.call('HGET', unsup, n)
    if gone and tonumber(gone) > t then
      ok = false
    else
      redis.call('HSET', sup, n, at .. '|' .. reason)
      redis.call('HDEL', unsup, n)
    end
  else
    local had = redis.call('HGET', sup, n)
    if had and tonumber(string.match(had, '^[^|]*')) > t then
      ok = false
    else
      redis.call('HDEL', sup, n)
      redis.call('HSET', unsup, n, at)
    end
  end
  if ok then
    redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*',
               'op', op, 'n', n, 'at', at, 'r', reason, 'node', node)
    applied = applied + 1
  end
end
return applied
""")


@dataclass(frozen=True, slots=True)
class Change:
    """One addition (``op == "a"``) or removal (``"r"``) of a number, made at ``at``."""

    op: str
    number: str
    at: float
    reason: str = ""
    node: str = ""

    def __post_init__(self) -> None:
        if self.op not in ("a", "r"):
            raise ValueError(f"op must be 'a' or 'r', not {self.op!r}")


class SharedSuppression:
    """The Redis side; see the module docstring. Every call raises
    :class:`~smsengine.cluster.ClusterUnavailable` when Redis is not there."""

    MAXLEN = 100_000

    def __init__(self, client: aioredis.Redis, config: ClusterConfig) -> None:
        self.client = client
        self.config = config
        self.node = config.node_id
        self.added_key = config.key("suppressed", "{opt-out}")
        self.removed_key = config.key("unsuppressed", "{opt-out}")
        self.log_key = config.key("optout-log", "{opt-out}")
        self.round_trips = 0

    async def apply(self, changes: Sequence[Change]) -> int:
        """Apply ``changes`` in order (one round trip); how many were applied (a change older
        than what Redis holds for its number is not)."""
        if not changes:
            return 0
        args: list[str | int | float] = [self.node, self.MAXLEN]
        for c in changes:
            args += [c.op, c.number, repr(float(c.at)), c.reason]
        async with redis_errors(self.config, "suppression apply"):
            applied = await _APPLY(self.client, [self.added_key, self.removed_key,
                                                 self.log_key], args)
        self.round_trips += 1
        return int(applied)

    async def last_id(self) -> str:
        """The log's newest entry id ("0-0" when empty): read before :meth:`snapshot`, then
        :meth:`read` from it, so nothing logged meanwhile is missed."""
        async with redis_errors(self.config, "suppression log"):
            got: Any = await self.client.xrevrange(self.log_key, "+", "-", count=1)
        self.round_trips += 1
        return got[0][0].decode() if got else "0-0"

    async def snapshot(self) -> tuple[dict[str, tuple[str, float]], dict[str, float]]:
        """(number -> (reason, at) of every suppressed number, number -> at of every removal)."""
        added: dict[str, tuple[str, float]] = {}
        removed: dict[str, float] = {}
        async with redis_errors(self.config, "suppression snapshot"):
            async for number, value in self.client.hscan_iter(self.added_key, count=5000):
                at, _, reason = value.decode().partition("|")
                added[number.decode()] = (reason, float(at))
            async for number, value in self.client.hscan_iter(self.removed_key, count=5000):
                removed[number.decode()] = float(value)
        self.round_trips += 2
        return added, removed

    async def read(self, after: str, count: int = 1000) -> tuple[str, list[Change]]:
        """The changes logged after ``after`` (at most ``count``) and the id to read after
        next. Not blocking: the caller polls."""
        async with redis_errors(self.config, "suppression read"):
            got: Any = await self.client.xread({self.log_key: after}, count=count)
        self.round_trips += 1
        changes: list[Change] = []
        last = after
        for _stream, entries in got or ():
            for entry_id, fields in entries:
                last = entry_id.decode()
                try:
                    changes.append(Change(
                        fields[b"op"].decode(), fields[b"n"].decode(),
                        float(fields[b"at"]), fields.get(b"r", b"").decode(),
                        fields.get(b"node", b"").decode()))
                except (KeyError, ValueError):
                    continue  # (from a node of another version: not ours to read)
        return last, changes
