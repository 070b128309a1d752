"""Pre-encoded submit_sm: SubmitSmTemplate and EncodedRequest.

A template must be indistinguishable from building the SubmitSm: the same octets for every value
SubmitSm accepts, the same InvalidPduError (field and status) for every value it refuses.
Hypothesis draws both kinds and compares the two outcomes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.smpp import (
    HEADER_LENGTH,
    CommandId,
    CommandStatus,
    EncodedRequest,
    InvalidPduError,
    SubmitSm,
    SubmitSmTemplate,
    Tag,
    Tlv,
)
from smsengine.smpp.pdu import HEADER
from tests._support.strategies import cstring, octet, smpp_time, tlv

# Mostly what real traffic looks like (ASCII, the template's fast path), with '%' in it (the
# template formats the body with bytes %), and any Latin-1 C-octet string (its slow path).
_ASCII = st.characters(min_codepoint=1, max_codepoint=127)


def text(max_len: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.sampled_from("0123456789+%AZaz "), max_size=max_len - 1),
        st.text(_ASCII, max_size=max_len - 1),
        cstring(max_len),
    )


def octets() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([0, 1, 0x25, 0xFF]), octet())


TEMPLATE_FIELDS = st.fixed_dictionaries(
    {
        "service_type": text(6),
        "source_addr_ton": octets(),
        "source_addr_npi": octets(),
        "source_addr": text(21),
        "dest_addr_ton": octets(),
        "dest_addr_npi": octets(),
        "protocol_id": octets(),
        "priority_flag": octets(),
        "replace_if_present_flag": octets(),
        "sm_default_msg_id": octets(),
    }
)


@st.composite
def message_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Valid per-message fields, each left at its default now and then."""
    short_message = draw(st.binary(max_size=254))
    fields = {
        "destination_addr": draw(text(21)),
        "short_message": short_message,
        "esm_class": draw(octets()),
        "registered_delivery": draw(octets()),
        "data_coding": draw(octets()),
        "schedule_delivery_time": draw(smpp_time()),
        "validity_period": draw(smpp_time()),
        "tlvs": tuple(draw(st.lists(tlv(allow_payload=not short_message), max_size=3))),
    }
    optional = ("esm_class", "registered_delivery", "data_coding", "schedule_delivery_time",
                "validity_period", "tlvs")
    for name in draw(st.sets(st.sampled_from(optional))):
        del fields[name]
    return fields


def outcome(build: Any) -> tuple[Any, ...]:
    """The body octets, or what was raised (with the field and status of an InvalidPduError)."""
    try:
        return ("ok", build())
    except InvalidPduError as exc:
        return ("InvalidPduError", exc.field, exc.status, str(exc))
    except Exception as exc:  # any other exception must be the same too
        return (type(exc).__name__, str(exc))


def via_template(template: dict[str, Any], fields: dict[str, Any], seq: int) -> Any:
    return lambda: SubmitSmTemplate(**template).request(**fields).encode(seq)


def via_pdu(template: dict[str, Any], fields: dict[str, Any], seq: int) -> Any:
    return lambda: SubmitSm(**template, **fields).encode(seq)


SEQ = st.integers(0, 0xFFFFFFFF)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=TEMPLATE_FIELDS, fields=message_fields(), seq=SEQ)
def test_same_octets_as_submit_sm(template: dict[str, Any], fields: dict[str, Any],
                                  seq: int) -> None:
    expected = SubmitSm(**template, **fields).encode(seq)
    request = SubmitSmTemplate(**template).request(**fields)
    assert type(request) is EncodedRequest
    assert request.encode(seq) == expected
    assert request.body == expected[HEADER_LENGTH:]
    assert request.sequence_number == 0


# Values SubmitSm refuses (and a few odd ones it accepts), per field.
_BAD_ADDR = st.one_of(
    st.text(_ASCII, min_size=21, max_size=30),  # too long
    st.builds(lambda a, b: a + "\0" + b, st.text(_ASCII, max_size=9), st.text(_ASCII, max_size=9)),
    st.builds(lambda a: a + "\u20ac", st.text(_ASCII, max_size=10)),  # not Latin-1
    st.text(st.characters(min_codepoint=128, max_codepoint=255), min_size=1, max_size=25),
    st.sampled_from([None, 5, b"123", ["1"]]),
)
_BAD_OCTET = st.one_of(
    st.integers(256, 1 << 40), st.integers(-(1 << 40), -1),
    st.sampled_from([None, 1.0, "1", b"\x01", True, False]),
)
_BAD_TIME = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["000000000000000+", "0000000000000001", "00000000000000Z+", None, 0, b""]),
)
_BAD_SM = st.one_of(
    st.binary(min_size=255, max_size=300), st.sampled_from([None, "hi", bytearray(b"hi"), 3]),
)
_PAYLOAD = Tlv(Tag.message_payload, b"long text")
_BAD_TLVS = st.sampled_from([
    (_PAYLOAD,),
    (Tlv(Tag.user_message_reference, 7), _PAYLOAD),
    [Tlv(Tag.user_message_reference, 7)],  # a list, not a tuple
    (Tlv(Tag.user_message_reference, 7), "not a Tlv"),
    None,
    [],
])


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """Valid per-message fields with one or more replaced by a refused (or odd) value."""
    fields = draw(message_fields())
    bad = {
        "destination_addr": _BAD_ADDR,
        "short_message": _BAD_SM,
        "esm_class": _BAD_OCTET,
        "registered_delivery": _BAD_OCTET,
        "data_coding": _BAD_OCTET,
        "schedule_delivery_time": _BAD_TIME,
        "validity_period": _BAD_TIME,
        "tlvs": _BAD_TLVS,
    }
    for name in draw(st.sets(st.sampled_from(sorted(bad)), min_size=1, max_size=3)):
        fields[name] = draw(bad[name])
    if draw(st.booleans()) and fields.get("tlvs") in ((_PAYLOAD,),):
        fields["short_message"] = b"x"  # message_payload beside a short_message
    return fields


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=TEMPLATE_FIELDS, fields=mutated(), seq=SEQ)
def test_refuses_what_submit_sm_refuses(template: dict[str, Any], fields: dict[str, Any],
                                        seq: int) -> None:
    assert outcome(via_template(template, fields, seq)) == outcome(via_pdu(template, fields, seq))


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"destination_addr": "1" * 21}, "destination_addr", CommandStatus.ESME_RINVDSTADR),
        ({"destination_addr": "12\x0034"}, "destination_addr", CommandStatus.ESME_RINVDSTADR),
        ({"destination_addr": "12\u20ac"}, "destination_addr", CommandStatus.ESME_RINVDSTADR),
        ({"short_message": b"x" * 255}, "short_message", CommandStatus.ESME_RINVMSGLEN),
        ({"esm_class": 256}, "esm_class", CommandStatus.ESME_RINVESMCLASS),
        ({"registered_delivery": -1}, "registered_delivery", CommandStatus.ESME_RINVREGDLVFLG),
        # data_coding has no status of its own in SMPP 3.4.
        ({"data_coding": 1.0}, "data_coding", CommandStatus.ESME_RUNKNOWNERR),
        ({"schedule_delivery_time": "tomorrow"}, "schedule_delivery_time",
         CommandStatus.ESME_RINVSCHED),
        ({"validity_period": "000001000000000X"}, "validity_period",
         CommandStatus.ESME_RINVEXPIRY),
        ({"tlvs": (_PAYLOAD,), "short_message": b"x"}, "message_payload",
         CommandStatus.ESME_ROPTPARNOTALLWD),
    ],
)
def test_refused_message_fields_name_the_field(fields: dict[str, Any], field: str,
                                               status: int) -> None:
    args = {"destination_addr": "8613800138000", "short_message": b"hi", **fields}
    with pytest.raises(InvalidPduError) as info:
        SubmitSmTemplate(source_addr="SHOP").request(**args)
    assert (info.value.field, info.value.status) == (field, status)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service_type": "CMTxxx"}, "service_type"),
        ({"source_addr_ton": 256}, "source_addr_ton"),
        ({"source_addr_npi": -1}, "source_addr_npi"),
        ({"source_addr": "x" * 21}, "source_addr"),
        ({"source_addr": "SH\0P"}, "source_addr"),
        ({"source_addr": "\u5546\u5e97"}, "source_addr"),
        ({"dest_addr_ton": "1"}, "dest_addr_ton"),
        ({"dest_addr_npi": 300}, "dest_addr_npi"),
        ({"protocol_id": 256}, "protocol_id"),
        ({"priority_flag": None}, "priority_flag"),
        ({"replace_if_present_flag": 2.5}, "replace_if_present_flag"),
        ({"sm_default_msg_id": 1 << 8}, "sm_default_msg_id"),
    ],
)
def test_refused_template_fields_raise_when_built(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPduError) as info:
        SubmitSmTemplate(**fields)
    assert info.value.field == field
    with pytest.raises(InvalidPduError) as same:
        SubmitSm(**fields)
    assert (info.value.field, info.value.status) == (same.value.field, same.value.status)


def test_percent_signs_in_the_constant_runs() -> None:
    # The template formats with bytes %: a '%' (0x25) in a constant field must stay literal.
    fields = {"service_type": "%b%", "source_addr": "%c%%s", "protocol_id": 0x25,
              "priority_flag": 0x25, "replace_if_present_flag": 0x25, "sm_default_msg_id": 0x25,
              "source_addr_ton": 0x25, "dest_addr_npi": 0x25}
    request = SubmitSmTemplate(**fields).request("%d", b"%s", esm_class=0x25,
                                                 validity_period="000001000000000R")
    assert request.encode(1) == SubmitSm(**fields, destination_addr="%d", short_message=b"%s",
                                         esm_class=0x25,
                                         validity_period="000001000000000R").encode(1)


def test_encoded_request_header_name_and_decode() -> None:
    template = SubmitSmTemplate(source_addr="SHOP", source_addr_ton=5)
    tlvs = (Tlv(Tag.user_message_reference, 42),)
    request = template.request("8613800138000", b"hello", registered_delivery=1, tlvs=tlvs)
    assert request.command_id is CommandId.submit_sm
    assert request.command_name == "submit_sm"
    assert request.sequence_number == 0
    data = request.encode(0x7FFFFFFF)
    assert HEADER.unpack_from(data) == (len(data), CommandId.submit_sm, 0, 0x7FFFFFFF)
    assert data[HEADER_LENGTH:] == request.body
    assert request.encode() == request.encode(0)
    expected = SubmitSm(source_addr="SHOP", source_addr_ton=5, destination_addr="8613800138000",
                        short_message=b"hello", registered_delivery=1, tlvs=tlvs)
    assert request.decode() == expected
    decoded = request.decode(9)
    assert isinstance(decoded, SubmitSm) and decoded.sequence_number == 9
    assert decoded.tlv(Tag.user_message_reference) == 42


@pytest.mark.parametrize("seq", [-1, 1 << 32, "1", None])
def test_encoded_request_refuses_a_bad_sequence_number(seq: Any) -> None:
    request = SubmitSmTemplate().request("1", b"")
    with pytest.raises(InvalidPduError) as info:
        request.encode(seq)
    assert info.value.field == "sequence_number"


def test_encoded_request_is_a_frozen_value() -> None:
    a = SubmitSmTemplate().request("1", b"x")
    b = SubmitSmTemplate().request("1", b"x")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.body = b""  # type: ignore[misc]


def test_decode_of_a_response_id_is_refused() -> None:
    with pytest.raises(TypeError, match="not a request"):
        EncodedRequest(CommandId.submit_sm_resp, b"M1\0").decode()


def test_template_repr_names_the_set_fields() -> None:
    assert repr(SubmitSmTemplate(source_addr="SHOP", source_addr_ton=5)) == (
        "SubmitSmTemplate(source_addr_ton=5, source_addr='SHOP')"
    )


def test_the_common_case_builds_no_submit_sm(monkeypatch: pytest.MonkeyPatch) -> None:
    # The point of the template: ASCII addresses, octets, SMPP times and Tlv tuples are checked
    # and formatted without building (and validating) a SubmitSm per message.
    template = SubmitSmTemplate(source_addr="SHOP", source_addr_ton=5)
    expected = [
        SubmitSm(source_addr="SHOP", source_addr_ton=5, destination_addr="8613800138000",
                 short_message=b"x" * 32, registered_delivery=1).encode(3),
        SubmitSm(source_addr="SHOP", source_addr_ton=5, destination_addr="1",
                 short_message=b"", esm_class=0x40, data_coding=8,
                 schedule_delivery_time="240101120000000+", validity_period="000001000000000R",
                 tlvs=(_PAYLOAD,)).encode(3),
    ]

    def refuse(**_: Any) -> None:
        raise AssertionError("the fast path built a SubmitSm")

    monkeypatch.setattr("smsengine.smpp.pdu.SubmitSm", refuse)
    got = [
        template.request("8613800138000", b"x" * 32, registered_delivery=1).encode(3),
        template.request("1", b"", esm_class=0x40, data_coding=8,
                         schedule_delivery_time="240101120000000+",
                         validity_period="000001000000000R", tlvs=(_PAYLOAD,)).encode(3),
    ]
    assert got == expected


# --- SubmitSmTemplate.simple: request() for the usual message -----------------------------------

@settings(deadline=None)
@given(
    st.text(max_size=24),
    st.binary(max_size=260),
    st.integers(-1, 300),
    st.integers(-1, 300),
)
def test_simple_is_request_for_the_usual_message(destination: str, short: bytes,
                                                 registered: int, coding: int) -> None:
    template = SubmitSmTemplate(source_addr="SHOP", source_addr_ton=5)
    try:
        expected = template.request(destination, short, registered_delivery=registered,
                                    data_coding=coding)
    except InvalidPduError as exc:
        with pytest.raises(InvalidPduError) as got:
            template.simple(destination, short, registered, coding)
        assert (got.value.field, got.value.status) == (exc.field, exc.status)
        return
    assert template.simple(destination, short, registered, coding) == expected
