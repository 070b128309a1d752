"""The generated fast check of every SGIP value agrees with the plain field-by-field validator.

The fast check (one boolean expression per class) may refuse what the plain validator accepts —
the plain one then runs and decides — but must never accept what it refuses; and for the values
a well-behaved caller builds, it must say yes so the plain one is not run. Field values are
drawn from valid ones and from near misses of every kind (out of range, too long, wrong type,
NUL, non-Latin-1).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsengine.sgip import PDU_CLASSES, InvalidPduError, Pdu, SequenceNumber, TraceNode
from smsengine.sgip import pdu as pdu_mod
from tests._support.sgip_strategies import field, sequence_numbers, value_of

CLASSES = [*PDU_CLASSES.values(), TraceNode]

_junk = st.one_of(
    st.none(), st.floats(allow_nan=False), st.integers(-300, 300), st.booleans(),
    st.binary(max_size=10), st.text(max_size=30), st.just((1, 2, 3)), st.just(["8613"]),
    st.just(()), st.just(("\0",)), st.just(("测",)), st.just((TraceNode(), "x")),
    st.just((TraceNode(),) * 256), st.just(SequenceNumber(1, 2, 3)), st.just(TraceNode()),
)  # fmt: skip


def _near_misses(marker: object) -> st.SearchStrategy[Any]:
    if isinstance(marker, pdu_mod._U8):
        return st.sampled_from([marker.lo - 1, marker.hi + 1, 256, -1, 1.0, "1", None])
    if isinstance(marker, pdu_mod._Text):
        w = marker.width
        return st.sampled_from(["x" * (w + 1), "a\0", "测", "é" * w, "é" * (w + 1), b"x", 5])
    if isinstance(marker, pdu_mod._Reserve):
        return st.sampled_from([bytes(7), bytes(9), bytearray(8), "12345678", None])
    if isinstance(marker, pdu_mod._Content):
        return st.sampled_from([bytearray(b"x"), "x", memoryview(b"x"), None])
    if isinstance(marker, pdu_mod._Users):
        return st.sampled_from([(), ("8" * 22,), ("é",), ("a\0",), ["8613"], ("1",) * 101,
                                ("1", 2), ("1", "é"), ("1", "2\0")])  # fmt: skip
    if isinstance(marker, pdu_mod._Seq):
        return st.sampled_from([(1, 2, 3), None, 0])
    if isinstance(marker, pdu_mod._Nodes):
        return st.sampled_from([[TraceNode()], (None,), (TraceNode(),) * 256])
    raise AssertionError(marker)


def _plain_accepts(cls: type, values: dict[str, Any]) -> bool:
    try:
        pdu_mod._explain_fields(
            cls.__name__, cls._layout, SimpleNamespace(**values), issubclass(cls, Pdu)
        )
    except InvalidPduError:
        return False
    return True


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_check_never_accepts_what_the_plain_one_refuses(
    cls: type, data: st.DataObject
) -> None:
    values: dict[str, Any] = {}
    for name, marker in cls._layout:
        kind = data.draw(st.integers(0, 5))
        if kind == 0:
            values[name] = data.draw(_near_misses(marker))
        elif kind == 1:
            values[name] = data.draw(_junk)
        else:
            values[name] = data.draw(field(marker))
    if issubclass(cls, Pdu):
        values["sequence_number"] = data.draw(st.one_of(sequence_numbers, _junk))
    fast = cls._ok(SimpleNamespace(**values))
    if fast:
        assert _plain_accepts(cls, values)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fast_check_accepts_ascii_values(cls: type, data: st.DataObject) -> None:
    value = data.draw(value_of(cls))
    assert cls._ok(value) is _ascii_only(value)


def _ascii_only(value: Any) -> bool:
    """Whether every Text of ``value`` is ASCII (Latin-1 text takes the plain path)."""
    for name in value.__struct_fields__:
        v = getattr(value, name)
        items = v if isinstance(v, tuple) else (v,)
        if any(isinstance(i, str) and not i.isascii() for i in items):
            return False
    return True
