"""Idempotency keys across nodes on Redis: the first node to claim a key answers it.

A key (per principal) is the hash ``<prefix>:idem:{<principal>}:<sha256 of the key>`` with
``node`` and ``fp`` (the request's fingerprint) while it is being answered, and ``code`` and
``body`` once answered. :meth:`SharedKeys.claim` is one script: the key claimed (``SET`` of the
hash, expiring after ``claim_ttl``), or what it holds already. A claim left by this same node
(a crash before its answer was committed: the node's outbox, checked first, has no answer) is
taken again. :meth:`SharedKeys.answer` stores the answer and keeps it ``ttl``;
:meth:`SharedKeys.release` drops an unanswered claim (the request failed: a retry may send).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from ._redis import Script, redis_errors
from .config import ClusterConfig

__all__ = ["Claim", "SharedKeys"]

_CLAIM = Script("""
local got = redis.call('HGETALL', KEYS[1])
if #got > 0 then
  local held = {}
  for i = 1, #got, 2 do held[got[i]] = got[i + 1] end
  if held['code'] or held['node'] ~= ARGV[1] then return got end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'fp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {}
""")

_ANSWER = Script("""
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'code', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
""")

_RELEASE = Script("""
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'code') == 0
then return redis.call('DEL', KEYS[1]) end
return 0
""")


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim found: ``claimed`` (this node answers), else the ``node`` answering or that
    answered, the first request's ``fingerprint``, and its answer (``code``, ``body``) once
    there is one."""

    claimed: bool
    node: str = ""
    fingerprint: bytes = b""
    code: int | None = None
    body: bytes = b""


class SharedKeys:
    """See the module docstring. Every call raises
    :class:`~smsengine.cluster.ClusterUnavailable` when Redis is not there."""

    def __init__(self, client: aioredis.Redis, config: ClusterConfig, *, ttl: float,
                 claim_ttl: float = 300.0) -> None:
        self.client = client
        self.config = config
        self.node = config.node_id
        self.ttl_ms = max(1, int(ttl * 1000))
        self.claim_ttl_ms = max(1, int(min(ttl, claim_ttl) * 1000))
        self.round_trips = 0

    def key(self, principal: str, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.config.key("idem", "{" + principal.replace("}", "_") + "}", digest)

    async def claim(self, principal: str, key: str, fingerprint: bytes) -> Claim:
        async with redis_errors(self.config, "idempotency claim"):
            got: Any = await _CLAIM(self.client, [self.key(principal, key)],
                                    [self.node, base64.b64encode(fingerprint).decode(),
                                     self.claim_ttl_ms])
        self.round_trips += 1
        if not got:
            return Claim(True, self.node, fingerprint)
        held = {got[i].decode(): got[i + 1] for i in range(0, len(got), 2)}
        code = held.get("code")
        return Claim(False, held.get("node", b"").decode(),
                     base64.b64decode(held.get("fp", b"")),
                     int(code) if code is not None else None, held.get("body", b""))

    async def answer(self, principal: str, key: str, code: int, body: bytes) -> bool:
        """Store the answer (False: the claim was no longer this node's)."""
        async with redis_errors(self.config, "idempotency answer"):
            done = await _ANSWER(self.client, [self.key(principal, key)],
                                 [self.node, code, body, self.ttl_ms])
        self.round_trips += 1
        return bool(done)

    async def release(self, principal: str, key: str) -> None:
        async with redis_errors(self.config, "idempotency release"):
            await _RELEASE(self.client, [self.key(principal, key)], [self.node])
        self.round_trips += 1
