"""Mobile-originated messages: reassembling the parts of a long one, and reading an opt-out.

Sans-I/O: time is passed in. A channel hands each :class:`~.adapter.MoPart` its adapter reads
to :meth:`MoAssembler.add` and passes on the whole messages it returns; the engine asks
:class:`OptOutKeywords` whether a reply opts its sender out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..text import Encoding, Reassembled, Reassembler, TextError, decode, parse_udh
from .adapter import MoPart

__all__ = ["MoAssembler", "MoMessage", "OptOutKeywords"]


class MoMessage:
    """A mobile-originated message, reassembled."""

    __slots__ = ("channel", "complete", "destination", "received_at", "source", "text")

    def __init__(self, channel: str, source: str, destination: str, text: str,
                 complete: bool = True) -> None:
        self.channel = channel
        self.source = source
        self.destination = destination
        self.text = text
        self.complete = complete
        self.received_at = time.time()

    def __repr__(self) -> str:
        return (f"MoMessage(channel={self.channel!r}, source={self.source!r}, "
                f"destination={self.destination!r}, text={self.text!r})")


class MoAssembler:
    """One channel's MO parts, put back together (concatenation UDH or SAR TLVs); bounded and
    timed out by the text layer's :class:`Reassembler`."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._reassembler = Reassembler()

    def add(self, part: MoPart, now: float) -> list[MoMessage]:
        """The messages ``part`` completes (none while parts are missing), and those timed
        out with parts missing, surfaced as incomplete rather than lost. ``now``: monotonic
        seconds."""
        channel, source, destination = self.channel, part.source, part.destination
        encoding, payload = part.encoding, part.payload
        key = (source, destination)
        out: list[MoMessage] = []
        done: Reassembled | None = None
        try:
            if part.udhi and payload:
                header, rest = parse_udh(payload)
                concat = header.concat
                if concat is None:
                    out.append(MoMessage(channel, source, destination, _decode(rest, encoding)))
                else:
                    done = self._reassembler.add(key, concat.ref, concat.total, concat.seqnum,
                                                 rest, now, encoding=encoding)
            elif part.sar is not None:
                ref, total, seqnum = part.sar
                done = self._reassembler.add(key, ref, total, seqnum, payload, now,
                                             encoding=encoding)
            else:
                out.append(MoMessage(channel, source, destination, _decode(payload, encoding)))
        except (TextError, ValueError):
            out.append(MoMessage(channel, source, destination, _decode(payload, Encoding.BINARY)))
            return out
        if done is not None:
            out.append(MoMessage(channel, source, destination, done.text, done.complete))
        for partial in self._reassembler.expire(now):
            ends = partial.key if isinstance(partial.key, tuple) else ("", "")
            out.append(MoMessage(channel, str(ends[0]), str(ends[1]), partial.text, False))
        return out


class OptOutKeywords:
    """The replies that opt their sender out ("退订", "TD", "STOP", …): the whole text, trimmed,
    in any case."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self._keywords = frozenset(k.strip().upper() for k in keywords)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and text.strip().upper() in self._keywords


def _decode(payload: bytes, encoding: Encoding) -> str:
    try:
        return decode(payload, encoding, errors="replace")
    except (TextError, ValueError):
        return payload.decode("latin-1")
