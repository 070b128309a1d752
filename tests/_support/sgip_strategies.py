"""Hypothesis strategies for valid SGIP PDUs, built from each class's wire markers.

Deriving them from the markers the codec uses gives every PDU type round-trip coverage; the
golden vectors (written by hand from the reference) are the independent check of the markers.
Texts avoid trailing spaces because a decoder strips them (section 1).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from smsengine.sgip import PDU_CLASSES, Pdu, SequenceNumber, TraceNode
from smsengine.sgip import pdu as pdu_mod

# Latin-1 without NUL: what a Text carries byte-transparently.
_CHARS = st.characters(min_codepoint=1, max_codepoint=255)
_U32 = st.integers(0, 0xFFFFFFFF)

sequence_numbers: st.SearchStrategy[SequenceNumber] = st.builds(SequenceNumber, _U32, _U32, _U32)


def text(width: int) -> st.SearchStrategy[str]:
    return st.text(_CHARS, max_size=width).map(lambda s: s.rstrip(" "))


def field(marker: object) -> st.SearchStrategy[Any]:
    if isinstance(marker, pdu_mod._U8):
        return st.integers(marker.lo, marker.hi)
    if isinstance(marker, pdu_mod._Text):
        return text(marker.width)
    if isinstance(marker, pdu_mod._Reserve):
        return st.binary(min_size=8, max_size=8)
    if isinstance(marker, pdu_mod._Content):
        # Up to 5 numbers and 300 octets stay below the 2 KiB limit.
        return st.binary(max_size=300)
    if isinstance(marker, pdu_mod._Users):
        return st.lists(text(21), min_size=1, max_size=5).map(tuple)
    if isinstance(marker, pdu_mod._Seq):
        return sequence_numbers
    if isinstance(marker, pdu_mod._Nodes):
        return st.lists(value_of(TraceNode), max_size=4).map(tuple)
    raise AssertionError(f"no strategy for {marker!r}")


def value_of(cls: type) -> st.SearchStrategy[Any]:
    fields = {n: field(m) for n, m in pdu_mod._layout(cls)}
    if issubclass(cls, Pdu):
        fields["sequence_number"] = sequence_numbers
    return st.builds(cls, **fields)


def any_pdu() -> st.SearchStrategy[Pdu]:
    return st.one_of([value_of(cls) for cls in PDU_CLASSES.values()])
