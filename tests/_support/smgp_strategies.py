"""Hypothesis strategies for valid SMGP PDUs and reports, built from each class's wire markers.

Deriving them from the markers the codec uses gives every PDU type and every TLV round-trip
coverage; the golden vectors (written by hand from the reference) are the independent check
of the markers. Octet strings are Latin-1 without NUL (a decoder cuts at the first NUL);
``other_tlvs`` use tags the PDU has no field for, so they come back in ``other_tlvs``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from smsengine.smgp import MAX_MSG_LENGTH, PDU_CLASSES, Pdu, Report, Submit
from smsengine.smgp import pdu as pdu_mod

# Latin-1 without NUL: what an Octet String carries byte-transparently.
_CHARS = st.characters(min_codepoint=1, max_codepoint=255)


def octet_string(width: int) -> st.SearchStrategy[str]:
    return st.text(_CHARS, max_size=width)


def _others(cls: type) -> st.SearchStrategy[tuple[tuple[int, bytes], ...]]:
    own = set(pdu_mod._TLV_BY_TAG.get(cls, {}))
    tags = st.integers(0, 0xFFFF).filter(lambda t: t not in own)
    return st.lists(st.tuples(tags, st.binary(max_size=30)), max_size=3).map(tuple)


def _field(cls: type, marker: object, tlvs: bool) -> st.SearchStrategy[Any]:
    if isinstance(marker, pdu_mod._Int):
        return st.integers(0, (1 << (8 * marker.size)) - 1)
    if isinstance(marker, pdu_mod._Str):
        return octet_string(marker.width)
    if isinstance(marker, pdu_mod._Bin):
        return st.binary(min_size=marker.size, max_size=marker.size)
    if isinstance(marker, pdu_mod._Content):
        return st.binary(max_size=MAX_MSG_LENGTH if cls is Submit else 255)
    if isinstance(marker, pdu_mod._Dests):
        return st.lists(octet_string(21), min_size=1, max_size=5).map(tuple)
    if isinstance(marker, pdu_mod._TlvInt):
        return st.none() | st.integers(0, 255) if tlvs else st.none()
    if isinstance(marker, pdu_mod._TlvStr):
        return octet_string(marker.width or 40) if tlvs else st.just("")
    if isinstance(marker, pdu_mod._Others):
        return _others(cls) if tlvs else st.just(())
    raise AssertionError(f"no strategy for {marker!r}")


def value_of(cls: type, *, tlvs: bool = True) -> st.SearchStrategy[Any]:
    """Any valid ``cls``; ``tlvs=False`` leaves every TLV field absent (2.0 and 1.3)."""
    fields = {n: _field(cls, m, tlvs) for n, m in pdu_mod._layout(cls)}
    fields["sequence_id"] = st.integers(0, 0xFFFFFFFF)
    return st.builds(cls, **fields)


def any_pdu(*, tlvs: bool = True) -> st.SearchStrategy[Pdu]:
    return st.one_of([value_of(cls, tlvs=tlvs) for cls in PDU_CLASSES.values()])


# Report values: printable ASCII without space (spaces around a value are trimmed) or ':'.
_REPORT_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":")


def report() -> st.SearchStrategy[Report]:
    def text(width: int) -> st.SearchStrategy[str]:
        return st.text(_REPORT_CHARS, max_size=width)

    return st.builds(
        Report,
        msg_id=st.binary(min_size=10, max_size=10),
        sub=text(3),
        dlvrd=text(3),
        submit_date=text(10),
        done_date=text(10),
        stat=text(7),
        err=text(3),
        text=st.binary(max_size=20).map(lambda b: b.rstrip(b"\0")),
    )
