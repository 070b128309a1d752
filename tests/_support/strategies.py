"""Hypothesis strategies for valid SMPP values, built from each PDU class's wire declaration.

Deriving them from the same markers the codec uses means a new PDU type gets round-trip
coverage automatically; the golden vectors (written by hand from the spec) are the independent
check that the declarations themselves are right.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from smsengine.smpp import PDU_CLASSES, TLV_SPECS, Pdu, Response, Tag, Tlv
from smsengine.smpp import pdu as pdu_mod

# Latin-1 without NUL: what a C-octet string can carry byte-transparently.
_CSTR_CHARS = st.characters(min_codepoint=1, max_codepoint=255)


def cstring(max_len: int) -> st.SearchStrategy[str]:
    return st.text(_CSTR_CHARS, max_size=max_len - 1)


def smpp_time() -> st.SearchStrategy[str]:
    digits = st.text(st.sampled_from("0123456789"), min_size=15, max_size=15)
    return st.one_of(
        st.just(""), st.builds(lambda d, p: d + p, digits, st.sampled_from(["+", "-", "R"]))
    )


def octet() -> st.SearchStrategy[int]:
    return st.integers(0, 255)


def _entries(cls: type) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{n: _field(m) for n, m in pdu_mod._layout(cls)})


def _field(marker: object) -> st.SearchStrategy[Any]:
    if isinstance(marker, pdu_mod._Octet):
        return octet()
    if isinstance(marker, pdu_mod._Uint32):
        return st.integers(0, 0xFFFFFFFF)
    if isinstance(marker, pdu_mod._CString):
        return cstring(marker.max_len)
    if isinstance(marker, pdu_mod._Time):
        return smpp_time()
    if isinstance(marker, pdu_mod._ShortMessage):
        return st.binary(max_size=254)
    if isinstance(marker, pdu_mod._DestList):
        entry = st.one_of(_entries(pdu_mod.SmeAddress), _entries(pdu_mod.DistributionList))
        return st.lists(entry, min_size=1, max_size=5).map(tuple)
    if isinstance(marker, pdu_mod._UnsuccessList):
        return st.lists(_entries(pdu_mod.UnsuccessSme), max_size=5).map(tuple)
    raise AssertionError(f"no strategy for {marker!r}")


def tlv_value(tag: int) -> st.SearchStrategy[Any]:
    spec = TLV_SPECS.get(tag)
    if spec is None:
        return st.binary(max_size=40)
    if spec.kind == "int":
        return st.integers(0, spec.top)
    if spec.kind == "cstring":
        return cstring(spec.max_len)
    return st.binary(min_size=spec.min_len, max_size=min(spec.max_len, 300))


_KNOWN = sorted(int(t) for t in TLV_SPECS)
_UNKNOWN_TAGS = st.integers(0, 0xFFFF).filter(lambda t: t not in TLV_SPECS)


@st.composite
def tlv(draw: st.DrawFn, allow_payload: bool = True) -> Tlv:
    tags = st.sampled_from(_KNOWN)
    if not allow_payload:
        tags = tags.filter(lambda t: t != Tag.message_payload)
    tag = draw(st.one_of(tags, _UNKNOWN_TAGS))
    return Tlv(tag, draw(tlv_value(tag)))


@st.composite
def pdu(draw: st.DrawFn, cls: type[Pdu]) -> Pdu:
    """A valid instance of ``cls`` with every field drawn, TLVs included."""
    layout = pdu_mod._layout(cls)
    fields = {name: draw(_field(marker)) for name, marker in layout}
    has_sm = bool(fields.get("short_message"))
    fields["tlvs"] = tuple(draw(st.lists(tlv(allow_payload=not has_sm), max_size=4)))
    fields["sequence_number"] = draw(st.integers(0, 0xFFFFFFFF))
    if issubclass(cls, Response):
        fields["command_status"] = draw(
            st.one_of(st.just(0), st.integers(0, 0xFFFFFFFF))
        )
    return cls(**fields)


def any_pdu() -> st.SearchStrategy[Pdu]:
    return st.sampled_from(sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)).flatmap(
        lambda cls: pdu(cls)
    )
