"""The hot-path decoders against the validating ones.

Each PDU class has two decoders: the checked one the framer uses, which checks every field while
reading it and builds the PDU without running the validator again, and the validating one it
falls back to (and :func:`decode_body` uses for anything but a framer's bytes). Whatever the
body, both must agree: the same PDU, or a PduDecodeError with the same status and field.
"""

from __future__ import annotations

import random
import threading

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
from smsengine.smpp.pdu import _DECODERS, _SLOW_DECODERS, PDU_CLASSES, decode_body
from smsengine.smpp.tlv import (
    TlvDecodeError,
    _decode_tlvs_walk,
    decode_tlvs,
    decode_tlvs_checked,
    encode_tlvs,
)
from tests.strategies import any_pdu


def _outcome(decoder: object, body: bytes, cid: int) -> object:
    try:
        pdu = decoder(body, 7, 0)  # type: ignore[operator]
    except PduDecodeError as exc:
        return ("error", exc.status, exc.field, exc.command_id)
    assert type(pdu) is PDU_CLASSES[cid]
    return pdu


def _same(body: bytes, cid: int) -> None:
    assert _outcome(_DECODERS[cid], body, cid) == _outcome(_SLOW_DECODERS[cid], body, cid)


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
        assert (checked[0] if checked is not None else "bad") == slow
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
