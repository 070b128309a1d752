"""Concatenation reference numbers: a rotating counter per destination.

A handset reassembles parts by (originator, reference) (3GPP TS 23.040 9.2.3.24.1), so two long
messages in flight to one handset must not share a reference. Each destination gets its own
counter, which starts at a random value (so a restarted sender does not reuse the references
of the messages it sent just before) and then rotates: 256 consecutive 8-bit references (65 536
16-bit ones) to one destination are all different.

Memory is bounded: the counters live in a least-recently-used map of at most
``max_destinations`` entries. A destination evicted and seen again starts at a new random value;
it was idle for the longest, so its earlier long messages are long reassembled.
"""

from __future__ import annotations

import random
from collections.abc import Hashable

from .errors import TextError

__all__ = ["ReferenceCounter"]


class ReferenceCounter:
    """Per-destination rotating references for UDH (8 or 16 bits) and SAR (16 bits)."""

    __slots__ = ("_counters", "_max", "_random")

    def __init__(self, *, max_destinations: int = 100_000, seed: int | None = None) -> None:
        if max_destinations < 1:
            raise TextError(f"max_destinations must be at least 1, not {max_destinations}")
        self._max = max_destinations
        self._counters: dict[Hashable, int] = {}
        self._random = random.Random(seed)

    def next(self, destination: Hashable, *, bits: int = 8) -> int:
        """The next reference for ``destination``: 0-255 with ``bits=8``, 0-65535 with 16.

        The 8-bit reference is the low octet of the 16-bit counter, so it rotates too.
        """
        if bits != 8 and bits != 16:
            raise TextError(f"bits must be 8 or 16, not {bits}")
        counters = self._counters
        value = counters.pop(destination, None)  # re-inserted below: most recently used
        if value is None:
            value = self._random.getrandbits(16)
            if len(counters) >= self._max:
                del counters[next(iter(counters))]
        value = (value + 1) & 0xFFFF
        counters[destination] = value
        return value & 0xFF if bits == 8 else value

    def __len__(self) -> int:
        return len(self._counters)
