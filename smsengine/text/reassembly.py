"""Reassembly of inbound concatenated messages (UDH IE 0x00 / 0x08, 3GPP TS 23.040
9.2.3.24.1 and .8; SMPP 3.4 SAR TLVs, 5.3.2.22-24).

Parts arrive in any order, sometimes twice (an SMSC resends a deliver_sm whose response it
missed), sometimes never. :class:`Reassembler` keeps the parts of each open message by
(key, reference, total), where the key is whatever identifies the sender to the caller
(e.g. the bind and source_addr). It is sans-I/O: time is the ``now`` the caller passes (a
monotonic clock), :meth:`~Reassembler.next_deadline` says when it next needs attention and
:meth:`~Reassembler.expire` hands back what timed out.

- A message completes when its last missing part arrives; :meth:`~Reassembler.add` returns it.
- A message that gets no new part for ``timeout`` seconds is surfaced by ``expire`` with the
  text it has, ``complete=False`` and the missing sequence numbers.
- Memory is bounded: at most ``max_groups`` open messages and ``max_octets`` buffered. Past a
  cap the least recently active message is closed and surfaced as incomplete — never dropped
  silently. A copy of a part of a message that completed within ``timeout`` is recognised and
  ignored rather than opening a message that could never complete.

Octets are joined before decoding, so a surrogate pair or GSM escape that another sender split
between parts still decodes; undecodable octets become U+FFFD (remote data never raises here).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

import msgspec

from .codec import decode
from .constants import MAX_PARTS, Encoding
from .errors import TextError

__all__ = ["Reassembled", "Reassembler"]

_GroupId = tuple[Hashable, int, int]


class Reassembled(msgspec.Struct, frozen=True, gc=False):
    """A reassembled message: whole (``complete``) or what arrived before it timed out.

    ``payload`` is the parts' octets joined in order (missing parts left out), ``text`` their
    decoding, ``missing`` the sequence numbers that never came.
    """

    key: Hashable
    ref: int
    total: int
    encoding: Encoding
    text: str
    payload: bytes
    complete: bool
    missing: tuple[int, ...] = ()


class _Group:
    __slots__ = ("deadline", "encoding", "key", "octets", "parts", "ref", "total")

    def __init__(self, key: Hashable, ref: int, total: int, encoding: Encoding) -> None:
        self.key = key
        self.ref = ref
        self.total = total
        self.encoding = encoding
        self.parts: dict[int, bytes] = {}
        self.octets = 0
        self.deadline = 0.0

    def result(self) -> Reassembled:
        parts = self.parts
        payload = b"".join(parts[i] for i in sorted(parts))
        missing = tuple(i for i in range(1, self.total + 1) if i not in parts)
        text = decode(payload, self.encoding, "replace")
        return Reassembled(
            self.key, self.ref, self.total, self.encoding, text, payload, not missing, missing
        )


class Reassembler:
    """Collects the parts of concatenated messages; see the module documentation."""

    DEFAULT_TIMEOUT: Final = 120.0

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_groups: int = 10_000,
        max_octets: int = 16 * 1024 * 1024,
    ) -> None:
        if timeout <= 0 or max_groups < 1 or max_octets < 1:
            raise TextError("timeout, max_groups and max_octets must be positive")
        self.timeout = timeout
        self.max_groups = max_groups
        self.max_octets = max_octets
        # Open groups in order of last activity, which with a monotonic ``now`` is also the
        # order of their deadlines: the first one is the next to expire or to be evicted.
        self._groups: dict[_GroupId, _Group] = {}
        self._octets = 0
        # Recently completed groups: (forget after, hash of each part) to spot late copies.
        self._done: dict[_GroupId, tuple[float, tuple[int, ...]]] = {}
        self._evicted: list[Reassembled] = []
        self._evicted_at = 0.0
        #: Incomplete messages lost because expire() was not called for max_groups evictions.
        self.dropped = 0

    def __len__(self) -> int:
        """Open (incomplete) messages."""
        return len(self._groups)

    @property
    def buffered_octets(self) -> int:
        return self._octets

    def add(
        self,
        key: Hashable,
        ref: int,
        total: int,
        seqnum: int,
        payload: bytes,
        now: float,
        *,
        encoding: Encoding = Encoding.GSM7,
    ) -> Reassembled | None:
        """Add one part; the whole message when this part completes it, else None.

        ``payload`` is the part's user data without its UDH (GSM7 unpacked). Sequence numbers
        are 1-based; a part outside 1 <= seqnum <= total <= 255 raises :class:`TextError`
        (:func:`~smsengine.text.parse_udh` already drops such IEs, as 23.040 says to).
        A duplicate part is ignored (None); the first copy is kept.
        """
        if not 1 <= seqnum <= total <= MAX_PARTS:
            raise TextError(f"part {seqnum} of {total}: need 1 <= seqnum <= total <= 255")
        if total == 1:
            text = decode(payload, encoding, "replace")
            return Reassembled(key, ref, 1, encoding, text, payload, True)
        gid = (key, ref, total)
        groups = self._groups
        group = groups.get(gid)
        if group is None:
            done = self._done.get(gid)
            if done is not None:
                if done[0] > now and done[1][seqnum - 1] == hash(payload):
                    return None  # a late copy of a part of a message already delivered
                del self._done[gid]
            group = _Group(key, ref, total, encoding)
        elif seqnum in group.parts:
            return None
        else:
            del groups[gid]  # re-inserted at the end: most recently active
        group.parts[seqnum] = payload
        group.octets += len(payload)
        self._octets += len(payload)
        if len(group.parts) == total:
            self._octets -= group.octets
            self._remember(gid, group, now)
            return group.result()
        group.deadline = now + self.timeout
        groups[gid] = group
        while len(groups) > self.max_groups or self._octets > self.max_octets:
            self._evict(now)
        return None

    def expire(self, now: float) -> list[Reassembled]:
        """Messages evicted by the caps, then those with no new part for ``timeout``."""
        out = self._evicted
        self._evicted = []
        groups = self._groups
        while groups:
            gid, group = next(iter(groups.items()))
            if group.deadline > now:
                break
            del groups[gid]
            self._octets -= group.octets
            out.append(group.result())
        done = self._done
        while done:
            gid, (forget, _) = next(iter(done.items()))
            if forget > now:
                break
            del done[gid]
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to return (None: nothing open)."""
        if self._evicted:
            return self._evicted_at
        for group in self._groups.values():
            return group.deadline
        return None

    def _evict(self, now: float) -> None:
        gid, group = next(iter(self._groups.items()))
        del self._groups[gid]
        self._octets -= group.octets
        if not self._evicted:
            self._evicted_at = now
        elif len(self._evicted) >= self.max_groups:
            del self._evicted[0]
            self.dropped += 1
        self._evicted.append(group.result())

    def _remember(self, gid: _GroupId, group: _Group, now: float) -> None:
        parts = group.parts
        hashes = tuple(hash(parts[i]) for i in range(1, len(parts) + 1))
        self._done[gid] = (now + self.timeout, hashes)
        if len(self._done) > self.max_groups:
            del self._done[next(iter(self._done))]
