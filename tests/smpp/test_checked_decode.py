"""The hot-path decoders against the validating ones.

Each PDU class has two decoders: the checked one the framer uses, which checks every field while
reading it and builds the PDU without running the validator again, and the validating one it
falls back to (and :func:`decode_body` uses for anything but a framer's bytes). Whatever the
body, both must agree: the same PDU, or a PduDecodeError with the same status and field.
"""

from __future__ import annotations

import random
import struct
import threading

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsengine.smpp import (
    CommandStatus,
    DeliverSm,
    InvalidPduError,
    Pdu,
    PduDecodeError,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
)
from smsengine.smpp.pdu import (
    _DECODERS,
    _SLOW_DECODERS,
    PDU_CLASSES,
    ReceiptTlvs,
    decode_body,
    decode_receipt_tlvs,
)
from smsengine.smpp.tlv import (
    TLV_SPECS,
    TlvDecodeError,
    _decode_tlvs_walk,
    decode_tlvs,
    decode_tlvs_checked,
    encode_tlvs,
)
from tests._support.strategies import any_pdu, pdu


def _types(pdu: Pdu) -> list[object]:
    """The type of every field and TLV part: equal values can still differ there (an int for
    a CommandStatus, a Tag for an int), which ``==`` does not show."""
    out: list[object] = [type(getattr(pdu, name)) for name in pdu.__struct_fields__]
    out += [(type(t.tag), type(t.value)) for t in pdu.tlvs]
    return out


def _outcome(decoder: object, body: bytes, cid: int, status: int = 0) -> object:
    try:
        pdu = decoder(body, 7, status)  # type: ignore[operator]
    except PduDecodeError as exc:
        return ("error", exc.status, exc.field, exc.command_id)
    assert type(pdu) is PDU_CLASSES[cid]
    return pdu, _types(pdu)


def _same(body: bytes, cid: int, status: int = 0) -> None:
    assert _outcome(_DECODERS[cid], body, cid, status) == _outcome(
        _SLOW_DECODERS[cid], body, cid, status
    )


def _mutations(body: bytes, rng: random.Random) -> list[bytes]:
    out = [body, body[:-1], body + b"\0", body + b"\x00\x1e\x00\x02A\0"]
    for _ in range(20):
        b = bytearray(body)
        if b:
            for _ in range(rng.randint(1, 3)):
                octet = rng.choice((0, 0x30, 0x41, 0xE9, 0xFF, rng.randrange(256)))
                b[rng.randrange(len(b))] = octet
        out.append(bytes(b))
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(any_pdu(), st.randoms(use_true_random=False))
def test_checked_and_validating_decoders_agree(pdu: Pdu, rng: random.Random) -> None:
    body = pdu.encode(7)[16:]
    for variant in _mutations(body, rng):
        _same(variant, pdu.command_id)


RECEIPT = DeliverSm(
    source_addr="8613800000000",
    destination_addr="BENCH",
    esm_class=4,
    short_message=b"id:0123456789 sub:001 dlvrd:001 stat:DELIVRD err:000 text:x",
    tlvs=(
        Tlv(Tag.receipted_message_id, "0123456789"),
        Tlv(Tag.message_state, 2),
        Tlv(Tag.network_error_code, b"\x03\x00\x00"),
    ),
)


@pytest.mark.parametrize(
    "body",
    [
        SubmitSm(source_addr="\xe9t\xe9", short_message=b"x").encode(1)[16:],  # Latin-1 text
        SubmitSm(schedule_delivery_time="260101120000000+").encode(1)[16:],
        SubmitSm(schedule_delivery_time="260101120000000+").encode(1)[16:].replace(b"+", b"x"),
        SubmitSm(source_addr="A" * 20).encode(1)[16:].replace(b"A" * 20, b"A" * 21),
        SubmitSm(short_message=b"x" * 254).encode(1)[16:].replace(b"\xfe", b"\xff") + b"x",
        SubmitSm(short_message=b"x").encode(1)[16:]
        + encode_tlvs((Tlv(Tag.message_payload, b"y"),)),  # both: ESME_ROPTPARNOTALLWD
        RECEIPT.encode(1)[16:],
        RECEIPT.encode(1)[16:].replace(b"0123456789\0", b"01234\x0056789"),  # NUL inside
        SubmitSmResp(message_id="A" * 64).encode(1)[16:],
        SubmitSmResp(message_id="A" * 64).encode(1)[16:].replace(b"A" * 64, b"A" * 65),
        b"",
    ],
)
def test_edge_cases_agree(body: bytes) -> None:
    for cid in (SubmitSm.command_id, DeliverSm.command_id, SubmitSmResp.command_id):
        _same(body, cid)


def test_a_rejected_field_keeps_its_status() -> None:
    body = SubmitSm(source_addr="A" * 20).encode(1)[16:].replace(b"A" * 20, b"A" * 21)
    with pytest.raises(PduDecodeError) as info:
        _DECODERS[SubmitSm.command_id](body, 1, 0)
    assert info.value.status == CommandStatus.ESME_RINVSRCADR
    assert info.value.field == "source_addr"


def test_decode_body_with_odd_arguments_still_reports() -> None:
    body = SubmitSmResp(message_id="1").encode(1)[16:]
    with pytest.raises(PduDecodeError):
        decode_body(SubmitSmResp.command_id, 0, 1 << 40, body)
    with pytest.raises(PduDecodeError):
        sm = SubmitSm(short_message=b"x").encode(1)[16:]
        decode_body(SubmitSm.command_id, 0, 1, memoryview(sm))  # short_message not bytes
    assert decode_body(SubmitSmResp.command_id, 0, 1, bytearray(body)) == SubmitSmResp(
        sequence_number=1, message_id="1"
    )


def test_tlvs_checked_agrees_with_decode_tlvs() -> None:
    rng = random.Random(5)
    raw = encode_tlvs(RECEIPT.tlvs)
    for _ in range(300):
        b = bytearray(raw)
        for _ in range(rng.randint(0, 2)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        b = b[: rng.randint(0, len(b))] if rng.random() < 0.3 else b
        try:
            slow: object = _decode_tlvs_walk(bytes(b), 0)
        except TlvDecodeError:
            slow = "bad"
        checked = decode_tlvs_checked(bytes(b), 0)
        assert (checked if checked is not None else "bad") == slow
        if slow != "bad":
            assert decode_tlvs(bytes(b), 0) == slow


def test_user_built_values_are_still_validated_after_decoding() -> None:
    decode_body(DeliverSm.command_id, 0, 1, RECEIPT.encode(1)[16:])
    with pytest.raises(InvalidPduError):
        SubmitSm(source_addr="A" * 30)
    with pytest.raises(InvalidPduError):
        Tlv(Tag.message_state, 300)


def test_decoding_in_other_threads_never_skips_validation_here() -> None:
    stop = threading.Event()
    body = RECEIPT.encode(1)[16:]

    def decode_forever() -> None:
        while not stop.is_set():
            decode_body(DeliverSm.command_id, 0, 1, body)

    threads = [threading.Thread(target=decode_forever) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(3000):
            with pytest.raises(InvalidPduError):
                SubmitSm(source_addr="A" * 30)
            with pytest.raises(InvalidPduError):
                Tlv(Tag.message_state, 300)
    finally:
        stop.set()
        for t in threads:
            t.join()


# --- the fast paths inside the checked decoders -----------------------------------------------
# The receipt TLVs (receipted_message_id then message_state) are read by one regular expression,
# deliver_sm and submit_sm first try a pattern without SMPP times, TLVs and the PDUs with at
# most one body field are copies of a prototype: each must give what the validating path gives.


def _tlvs_outcome(raw: bytes) -> object:
    checked = decode_tlvs_checked(raw, 0)
    try:
        slow = _decode_tlvs_walk(raw, 0)
    except TlvDecodeError:
        assert checked is None
        return "bad"
    assert checked is not None
    assert [(type(t.tag), type(t.value)) for t in checked] == [
        (type(t.tag), type(t.value)) for t in slow
    ]
    assert checked == slow
    return checked


@settings(max_examples=400)
@given(
    st.binary(max_size=70) | st.text("0123456789abcdefABCDEF", max_size=70).map(str.encode),
    st.integers(0, 255),
    st.integers(-2, 2),
    st.booleans(),
    st.binary(max_size=6),
)
def test_receipt_tlvs_fast_path_agrees(
    message_id: bytes, state: int, length_error: int, nul: bool, tail: bytes
) -> None:
    value = message_id + (b"\0" if nul else b"")
    length = max(0, min(255, len(value) + length_error))
    raw = b"\x00\x1e\x00" + bytes([length]) + value + b"\x00\x04\x27\x00\x01" + bytes([state])
    _tlvs_outcome(raw)
    _tlvs_outcome(raw + tail)
    _tlvs_outcome(raw[: len(raw) - len(tail)])


@given(
    st.lists(
        st.sampled_from(sorted(TLV_SPECS)) | st.integers(0, 0xFFFF),
        max_size=4,
    ),
    st.lists(st.binary(max_size=12), min_size=4, max_size=4),
)
def test_tlv_kinds_agree_with_the_walk(tags: list[int], values: list[bytes]) -> None:
    pairs = zip(tags, values[: len(tags)], strict=True)
    raw = b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in pairs)
    _tlvs_outcome(raw)


@st.composite
def receipts(draw: st.DrawFn) -> DeliverSm:
    """deliver_sm receipts as the fake SMSC sends them, now and then with SMPP times."""
    message_id = draw(st.text("0123456789abcdef", min_size=1, max_size=64))
    times = draw(st.sampled_from(["", "260101120000000+", "000001000000000R"]))
    return DeliverSm(
        source_addr_ton=draw(st.integers(0, 6)),
        source_addr_npi=draw(st.integers(0, 1)),
        source_addr=draw(st.text("0123456789", max_size=20)),
        dest_addr_ton=5,
        destination_addr=draw(st.text("ABCDEFGHIJ", max_size=20)),
        esm_class=4,
        schedule_delivery_time=times,
        validity_period=draw(st.sampled_from(["", times])),
        short_message=(
            f"id:{message_id} sub:001 dlvrd:001 submit date:2601011200 "
            f"done date:2601011201 stat:DELIVRD err:000 text:hello"
        ).encode(),
        tlvs=(
            Tlv(Tag.receipted_message_id.value, message_id),
            Tlv(Tag.message_state.value, draw(st.integers(0, 255))),
        ),
    )


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(receipts(), st.randoms(use_true_random=False))
def test_receipts_and_their_mutations_decode_alike(pdu: DeliverSm, rng: random.Random) -> None:
    body = pdu.encode(7)[16:]
    assert _DECODERS[DeliverSm.command_id](body, 7, 0) == msgspec.structs.replace(
        pdu, sequence_number=7
    )
    for variant in _mutations(body, rng):
        _same(variant, DeliverSm.command_id)
        _same(variant, SubmitSm.command_id)


_SMALL = [cls for cls in PDU_CLASSES.values() if len(cls.__struct_fields__) <= 4]


@settings(max_examples=300)
@given(
    st.sampled_from(_SMALL),
    st.sampled_from([0, 8, 0x58, 0x400, 0xFFFFFFFF]),
    st.text("0123456789ABCDEF", max_size=66).map(str.encode),
    st.sampled_from([b"", b"\0", b"\0\x00\x1e\x00\x02A\0", b"x"]),
)
def test_prototype_built_pdus_agree(cls: type[Pdu], status: int, value: bytes,
                                    tail: bytes) -> None:
    for body in (b"", value + tail, tail):
        _same(body, cls.command_id, status)


def test_prototypes_are_not_shared_or_changed() -> None:
    decode = _DECODERS[SubmitSmResp.command_id]
    first = decode(b"A1\0", 1, 0)
    second = decode(b"B2\0", 2, 8)
    assert first == SubmitSmResp(sequence_number=1, message_id="A1")
    assert second == SubmitSmResp(sequence_number=2, command_status=8, message_id="B2")
    assert type(first.command_status) is CommandStatus
    assert decode(b"", 3, 0) == SubmitSmResp(sequence_number=3)


# --- deliver_sm receipts read short (Framer.feed_receipts) --------------------------------------


def _plain_receipt(full: object, body: bytes) -> bool:
    """What decode_receipt_tlvs is for: a deliver_sm with a receipt's esm_class, no SMPP times, the
    TLVs receipted_message_id then message_state and no others, encoded as we would encode it
    (not, say, an id without its NUL, which the full decoder tolerates)."""
    return (
        type(full) is DeliverSm
        and full.is_receipt
        and [t.tag for t in full.tlvs] == [Tag.receipted_message_id, Tag.message_state]
        and not (full.schedule_delivery_time or full.validity_period)
        and full.encode(7)[16:] == body
    )


def _receipt_agrees(body: bytes) -> object:
    """decode_receipt_tlvs against the full deliver_sm decoder: a ReceiptTlvs exactly for a plain
    receipt, with its two values; for anything else what the full decoder gives, or the same
    PduDecodeError."""
    full = _outcome(_DECODERS[DeliverSm.command_id], body, DeliverSm.command_id)
    try:
        short = decode_receipt_tlvs(body, 7, 0)
    except PduDecodeError as exc:
        assert full == ("error", exc.status, exc.field, exc.command_id)
        return full
    assert not isinstance(full, tuple) or full[0] != "error"
    whole = full[0]  # type: ignore[index]
    if type(short) is ReceiptTlvs:
        assert _plain_receipt(whole, body)
        assert short == ReceiptTlvs(7, whole.tlv(Tag.receipted_message_id),
                                       whole.tlv(Tag.message_state), body)
        assert type(short.message_id) is str and type(short.message_state) is int
        assert short.pdu() == whole and _types(short.pdu()) == _types(whole)
        return short
    assert not _plain_receipt(whole, body)
    assert (short, _types(short)) == full
    return short


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(receipts(), st.randoms(use_true_random=False))
def test_receipts_read_short_agree_with_the_full_decoder(pdu: DeliverSm,
                                                         rng: random.Random) -> None:
    body = pdu.encode(7)[16:]
    got = _receipt_agrees(body)
    assert (type(got) is ReceiptTlvs) == (not pdu.schedule_delivery_time
                                            and not pdu.validity_period)
    for variant in _mutations(body, rng):
        _receipt_agrees(variant)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(pdu(DeliverSm), st.integers(0, 255), st.randoms(use_true_random=False))
def test_any_deliver_sm_read_short_agrees(pdu: DeliverSm, esm_class: int,
                                          rng: random.Random) -> None:
    """Every esm_class (receipt or not), any TLVs: never a ReceiptTlvs for anything else."""
    pdu = msgspec.structs.replace(pdu, esm_class=esm_class)
    body = pdu.encode(7)[16:]
    _receipt_agrees(body)
    for variant in _mutations(body, rng):
        _receipt_agrees(variant)


def _receipt(**fields: object) -> DeliverSm:
    fields.setdefault("tlvs", (Tlv(Tag.receipted_message_id, "0A1B"), Tlv(Tag.message_state, 2)))
    return msgspec.structs.replace(RECEIPT, **fields)


@pytest.mark.parametrize(
    ("pdu", "short"),
    [
        (_receipt(), True),
        (_receipt(esm_class=0x20), True),  # an intermediate notification
        (_receipt(esm_class=0x04 | 0x40 | 0x80), True),  # other esm_class bits do not matter
        (_receipt(esm_class=0x08), False),  # not a receipt
        (_receipt(esm_class=0), False),  # an MO message
        (_receipt(tlvs=(Tlv(Tag.receipted_message_id, "F" * 64), Tlv(Tag.message_state, 255))),
         True),
        (_receipt(tlvs=(Tlv(Tag.message_state, 2), Tlv(Tag.receipted_message_id, "0A1B"))),
         False),  # the other order
        (RECEIPT, False),  # with network_error_code too
        (_receipt(tlvs=(Tlv(Tag.receipted_message_id, "0A1B"),)), False),
        (_receipt(tlvs=()), False),
        (_receipt(short_message=b"x" * 254), True),
        (_receipt(short_message=b""), True),
        (_receipt(validity_period="000001000000000R"), False),
        (_receipt(source_addr="1" * 20, destination_addr="2" * 20, service_type="CMT"), True),
    ],
)
def test_which_deliver_sm_are_read_short(pdu: DeliverSm, short: bool) -> None:
    got = _receipt_agrees(pdu.encode(7)[16:])
    assert (type(got) is ReceiptTlvs) is short


@pytest.mark.parametrize(
    "body",
    [
        b"",
        _receipt(short_message=b"x" * 254).encode(1)[16:].replace(b"\xfe", b"\xff") + b"x",
        _receipt(short_message=b"x" * 254).encode(1)[16:].replace(
            b"\xfe" + b"x" * 254, b"\xff" + b"x" * 255),  # sm_length 255, the TLVs after it
        _receipt().encode(1)[16:][:-1],  # message_state cut short
        _receipt().encode(1)[16:] + b"\0",  # an octet after the TLVs
        _receipt().encode(1)[16:].replace(b"0A1B\0", b"0A1B\x00"[:-1] + b"X"),  # id without NUL
        _receipt().encode(1)[16:].replace(b"\x00\x05", b"\x00\x04"),  # length one short
        _receipt(source_addr="1" * 20).encode(1)[16:].replace(b"1" * 20, b"1" * 21),
    ],
)
def test_malformed_receipts_are_left_to_the_full_decoder(body: bytes) -> None:
    assert type(_receipt_agrees(body)) is not ReceiptTlvs
