"""aiosmpplib's own SMPP codec, exposed for a like-for-like speed comparison.

Benchmark peer only: smsengine itself must never import aiosmpplib.

aiosmpplib (0.7.4) encodes and decodes synchronously: ``SmppMessage.pdu()``,
``SmppMessage.parse_header()`` and ``<cls>.from_pdu()`` are plain methods.
Only the socket I/O in ``ESME`` is async, so no event loop or coroutine
driving is needed here.

The calls below copy what ``aiosmpplib.esme.ESME`` does:
  send    (ESME._send_data / _dequeue_messages): the user builds SubmitSm,
          the ESME sets sequence_num and calls set_encoding_info(default_encoding,
          custom_codecs), then calls pdu().
  receive (ESME._get_pdu / _handle_request): SmppMessage.parse_header(first 16
          bytes), MESSAGE_TYPE_MAP[cmd].from_pdu(pdu, header, default_encoding,
          custom_codecs), and for a receipt DeliverSm.parse_receipt().
"""

from __future__ import annotations

import struct

from aiosmpplib import NPI, TON, DeliverSm, PhoneNumber, SmppMessage, SubmitSm
from aiosmpplib.protocol import DEFAULT_ENCODING, MESSAGE_TYPE_MAP, PDU_HEADER_LENGTH

# ESME() defaults: default_encoding='gsm0338', custom_codecs=None.
_DEFAULT_ENCODING: str = DEFAULT_ENCODING
_CUSTOM_CODECS = None

TEXT: str = "Your verification code is 123456"


def build_encode_submit_sm(seq: int) -> bytes:
    """Build a new SubmitSm and encode it, as one user send through the ESME would."""
    # Every object is created on each call. A user builds the PhoneNumber/SubmitSm
    # dataclasses for each message, and their __post_init__ validation
    # (check_param) is part of aiosmpplib's real send cost.
    msg = SubmitSm(
        short_message=TEXT,
        source=PhoneNumber("SMSENGINE", TON.ALPHANUMERIC, NPI.UNKNOWN),
        destination=PhoneNumber("8613800138000", TON.INTERNATIONAL, NPI.ISDN),
        service_type="",
        esm_class=0,
        protocol_id=0,
        priority_flag=0,
        schedule_delivery_time=None,  # encoded as "" (a bare NUL)
        validity_period=None,         # encoded as "" (a bare NUL)
        registered_delivery=1,
        replace_if_present_flag=0,
        # encoding=None means "auto": try default_encoding (gsm0338, data_coding 0),
        # and fall back to UCS2 only if the text can't be encoded. A user would
        # normally leave it like this.
        encoding=None,
        sm_default_msg_id=0,
    )
    # ESME.send_message assigns the sequence number after construction.
    msg.sequence_num = seq
    msg.set_encoding_info(_DEFAULT_ENCODING, _CUSTOM_CODECS)
    return msg.pdu()


def _decode(data: bytes) -> SmppMessage:
    # The ESME's receive path: parse the header, pick the class by command_id,
    # then do a full from_pdu. from_pdu is eager. It parses every mandatory
    # field, decodes short_message through the codec (GSM 03.38 here), parses
    # all TLVs into OptionalParam objects (each validated in __post_init__), and
    # converts the SMPP time strings.
    header = SmppMessage.parse_header(data[:PDU_HEADER_LENGTH])
    cls = MESSAGE_TYPE_MAP[header.smpp_command]
    return cls.from_pdu(data, header, _DEFAULT_ENCODING, _CUSTOM_CODECS)


def decode_submit_sm(data: bytes) -> SubmitSm:
    """Fully decode a submit_sm with aiosmpplib. (Its ESME never receives one,
    but SubmitSm.from_pdu is the same code that DeliverSm uses.)"""
    msg = _decode(data)
    assert isinstance(msg, SubmitSm)
    return msg


def decode_deliver_sm(data: bytes) -> DeliverSm:
    """Fully decode a deliver_sm, including the receipt parse the ESME does."""
    msg = _decode(data)
    assert isinstance(msg, DeliverSm)
    # The one lazy step: the receipt text ("id:... stat:...") is only parsed
    # when parse_receipt() is called. ESME._handle_request calls it for every
    # receipt to get the message id, so we call it too.
    if msg.is_receipt():
        msg.parse_receipt()
    return msg


def _cstr(s: bytes) -> bytes:
    return s + b"\x00"


def _build_receipt() -> bytes:
    # Built with struct, independently of aiosmpplib, so that decoding it also
    # checks aiosmpplib against a wire image it didn't produce itself.
    sm = (
        b"id:1234567890 sub:001 dlvrd:001 submit date:2611231200 "
        b"done date:2611231201 stat:DELIVRD err:000 text:Your verification co"
    )
    rmid = _cstr(b"1234567890")
    body = (
        _cstr(b"")                                          # service_type
        + struct.pack("!BB", 1, 1) + _cstr(b"8613800138000")  # source ton/npi/addr
        + struct.pack("!BB", 5, 0) + _cstr(b"SMSENGINE")      # dest ton/npi/addr
        + struct.pack("!BBB", 0x04, 0, 0)                   # esm_class, protocol_id, priority
        + _cstr(b"") + _cstr(b"")                           # schedule_delivery_time, validity
        + struct.pack("!BBBBB", 0, 0, 0, 0, len(sm))        # reg_dlvr, replace, dcs, dflt, sm_len
        + sm
        + struct.pack("!HH", 0x001E, len(rmid)) + rmid      # receipted_message_id (len 11)
        + struct.pack("!HHB", 0x0427, 1, 2)                 # message_state = DELIVERED
    )
    return struct.pack("!IIII", 16 + len(body), 0x00000005, 0, 7) + body


RECEIPT_DELIVER_SM: bytes = _build_receipt()
SUBMIT_SM: bytes = build_encode_submit_sm(1)


if __name__ == "__main__":
    import aiosmpplib.protocol as _p
    from _common import rate

    print(f"aiosmpplib from {_p.__file__}")

    d = decode_deliver_sm(RECEIPT_DELIVER_SM)
    print("deliver_sm:", d.sequence_num, d.source, d.destination,
          f"esm_class=0x{d.esm_class:02x}", f"is_receipt={d.is_receipt()}")
    print("  short_message:", repr(d.short_message))
    print("  optional_params:", [(hex(p.tag), p.value) for p in d.optional_params or []])
    print("  receipt:", d.parse_receipt())
    tlv = {p.tag: p.value for p in d.optional_params or []}
    assert tlv == {0x001E: "1234567890", 0x0427: 2}, tlv
    assert d.parse_receipt()["id"] == "1234567890" and d.parse_receipt()["stat"] == "DELIVRD"

    print("submit_sm bytes:", len(SUBMIT_SM), SUBMIT_SM.hex())
    s = decode_submit_sm(SUBMIT_SM)
    print("submit_sm:", s.sequence_num, s.source, s.destination,
          f"registered_delivery={s.registered_delivery}", f"encoding={s.encoding}",
          repr(s.short_message))
    assert s.short_message == TEXT and s.destination.number == "8613800138000"
    # data_coding octet is 0 and sm_length is 32 (GSM default alphabet, one octet per char).
    sm_len_at = SUBMIT_SM.index(TEXT.encode()) - 1
    assert SUBMIT_SM[sm_len_at] == 32 and SUBMIT_SM[sm_len_at - 2] == 0

    for name, fn in (
        ("build+encode submit_sm", lambda: build_encode_submit_sm(1)),
        ("decode submit_sm", lambda: decode_submit_sm(SUBMIT_SM)),
        ("decode deliver_sm receipt", lambda: decode_deliver_sm(RECEIPT_DELIVER_SM)),
    ):
        print(f"{name:28s} {rate(fn, 1.0):>12,.0f} ops/s")
