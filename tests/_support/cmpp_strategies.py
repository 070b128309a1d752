"""Hypothesis strategies for valid CMPP PDUs of one version, built from each class's wire markers.

Deriving them from the markers the codec uses gives every PDU type round-trip coverage; the
golden vectors (written by hand from the reference) are the independent check of the markers.
Strings avoid trailing spaces because a decoder strips them (section 1).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from smsengine.cmpp import PDU_CLASSES, Pdu, Report
from smsengine.cmpp import pdu as pdu_mod

# Latin-1 without NUL: what an Octet String carries byte-transparently.
_CHARS = st.characters(min_codepoint=1, max_codepoint=255)


def octet_string(width: int) -> st.SearchStrategy[str]:
    return st.text(_CHARS, max_size=width).map(lambda s: s.rstrip(" "))


def _field(marker: object, v3: bool) -> st.SearchStrategy[Any]:
    if isinstance(marker, pdu_mod._Only30):
        if not v3:
            inner = marker.inner
            return st.just("" if isinstance(inner, pdu_mod._Str) else 0)
        marker = marker.inner
    if isinstance(marker, pdu_mod._Int):
        size = marker.size if v3 else marker.size20
        return st.integers(0, (1 << (8 * size)) - 1)
    if isinstance(marker, pdu_mod._Str):
        return octet_string(marker.width if v3 else marker.width20)
    if isinstance(marker, pdu_mod._Bin):
        return st.binary(min_size=marker.size, max_size=marker.size)
    if isinstance(marker, pdu_mod._Content):
        return st.binary(max_size=255)
    if isinstance(marker, pdu_mod._Dests):
        width = marker.width if v3 else marker.width20
        return st.lists(octet_string(width), min_size=1, max_size=5).map(tuple)
    raise AssertionError(f"no strategy for {marker!r}")


def value_of(cls: type, version: int) -> st.SearchStrategy[Any]:
    v3 = version >= 0x30
    fields = {n: _field(m, v3) for n, m in pdu_mod._layout(cls)}
    if issubclass(cls, Pdu):
        fields["sequence_id"] = st.integers(0, 0xFFFFFFFF)
    return st.builds(cls, **fields)


def any_pdu(version: int) -> st.SearchStrategy[Pdu]:
    return st.one_of([value_of(cls, version) for cls in PDU_CLASSES.values()])


def report(version: int) -> st.SearchStrategy[Report]:
    return value_of(Report, version)
