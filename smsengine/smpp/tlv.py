"""SMPP optional parameters (TLVs), SMPP 3.4 section 5.3.

A :class:`Tlv` is a tag and a typed value: ``int`` for the Integer parameters, ``str`` for the
C-Octet String ones (without the NUL), ``bytes`` for Octet Strings and for every tag this module
does not know — those are kept byte-exact and re-encoded as they came.
"""

from __future__ import annotations

import re
import struct
from typing import Any, Final

import msgspec

from .constants import CommandStatus, Tag
from .errors import InvalidPduError

__all__ = ["TLV_SPECS", "Tlv", "TlvSpec", "decode_tlvs", "encode_tlvs"]

_TL = struct.Struct(">HH")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_INT_STRUCTS: Final = {1: _U8, 2: _U16, 4: _U32}

INT: Final = "int"
CSTRING: Final = "cstring"
OCTETS: Final = "octets"


class TlvSpec(msgspec.Struct, frozen=True):
    """How a known tag's value looks on the wire.

    ``kind`` is ``"int"`` (``size`` octets, big-endian), ``"cstring"`` (at most ``max_len`` octets
    including the NUL) or ``"octets"`` (``min_len`` to ``max_len`` octets).
    """

    kind: str
    size: int = 0
    min_len: int = 0
    max_len: int = 0

    @property
    def top(self) -> int:
        """The largest value an ``int`` TLV of this size holds."""
        return (1 << (8 * self.size)) - 1


def _i(size: int) -> TlvSpec:
    return TlvSpec(INT, size=size, min_len=size, max_len=size)


def _c(max_len: int) -> TlvSpec:
    return TlvSpec(CSTRING, min_len=1, max_len=max_len)


def _o(min_len: int, max_len: int) -> TlvSpec:
    return TlvSpec(OCTETS, min_len=min_len, max_len=max_len)


#: Value type and size of every SMPP 3.4 TLV (section 5.3.2).
TLV_SPECS: Final[dict[int, TlvSpec]] = {
    Tag.dest_addr_subunit: _i(1),
    Tag.dest_network_type: _i(1),
    Tag.dest_bearer_type: _i(1),
    Tag.dest_telematics_id: _i(2),
    Tag.source_addr_subunit: _i(1),
    Tag.source_network_type: _i(1),
    Tag.source_bearer_type: _i(1),
    Tag.source_telematics_id: _i(1),
    Tag.qos_time_to_live: _i(4),
    Tag.payload_type: _i(1),
    Tag.additional_status_info_text: _c(256),
    Tag.receipted_message_id: _c(65),
    Tag.ms_msg_wait_facilities: _i(1),
    Tag.privacy_indicator: _i(1),
    Tag.source_subaddress: _o(2, 23),
    Tag.dest_subaddress: _o(2, 23),
    Tag.user_message_reference: _i(2),
    Tag.user_response_code: _i(1),
    Tag.source_port: _i(2),
    Tag.destination_port: _i(2),
    Tag.sar_msg_ref_num: _i(2),
    Tag.language_indicator: _i(1),
    Tag.sar_total_segments: _i(1),
    Tag.sar_segment_seqnum: _i(1),
    Tag.sc_interface_version: _i(1),
    Tag.callback_num_pres_ind: _i(1),
    Tag.callback_num_atag: _o(0, 65),
    Tag.number_of_messages: _i(1),
    Tag.callback_num: _o(4, 19),
    Tag.dpf_result: _i(1),
    Tag.set_dpf: _i(1),
    Tag.ms_availability_status: _i(1),
    Tag.network_error_code: _o(3, 3),
    Tag.message_payload: _o(0, 0xFFFF),
    Tag.delivery_failure_reason: _i(1),
    Tag.more_messages_to_send: _i(1),
    Tag.message_state: _i(1),
    Tag.ussd_service_op: _o(1, 1),
    Tag.display_time: _i(1),
    Tag.sms_signal: _i(2),
    Tag.ms_validity: _i(1),
    Tag.alert_on_message_delivery: _o(0, 0),
    Tag.its_reply_type: _i(1),
    Tag.its_session_info: _o(2, 2),
}

_UNKNOWN: Final = _o(0, 0xFFFF)
_TAG_NAMES: Final = {t.value: t for t in Tag}


def _tag_name(tag: int) -> str:
    known = _TAG_NAMES.get(tag)
    return known.name if known is not None else f"tlv 0x{tag:04X}"


class Tlv(msgspec.Struct, frozen=True, gc=False):
    """One optional parameter: ``Tlv(Tag.receipted_message_id, "1A2B")``."""

    tag: int
    value: int | str | bytes

    def __post_init__(self) -> None:
        tag = self.tag
        value = self.value
        # Fast path for the common, valid case; _check explains anything else.
        spec = TLV_SPECS.get(tag)
        if spec is not None:
            kind = spec.kind
            if kind is INT:
                if type(value) is int and 0 <= value <= spec.top:
                    return
            elif kind is CSTRING:
                if (
                    type(value) is str
                    and len(value) < spec.max_len
                    and value.isascii()
                    and "\0" not in value
                ):
                    return
            elif type(value) is bytes and spec.min_len <= len(value) <= spec.max_len:
                return
        elif (
            type(value) is bytes and len(value) <= 0xFFFF and type(tag) is int and 0 <= tag < 65536
        ):
            return
        _check(tag, value)

    def encode(self) -> bytes:
        return _encode_one(self)


def _bad(tag: int, message: str) -> InvalidPduError:
    return InvalidPduError(
        f"{_tag_name(tag)}: {message}", field=_tag_name(tag), status=CommandStatus.ESME_RINVPARLEN
    )


def _check(tag: object, value: object) -> None:
    if not isinstance(tag, int) or not 0 <= tag <= 0xFFFF:
        raise InvalidPduError(
            f"TLV tag must be an int 0..0xFFFF, got {tag!r}",
            field="tlvs",
            status=CommandStatus.ESME_RINVOPTPARSTREAM,
        )
    spec = TLV_SPECS.get(tag, _UNKNOWN)
    kind = spec.kind
    if kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(tag, f"value must be an int, got {type(value).__name__}")
        if not 0 <= value <= spec.top:
            raise _bad(tag, f"value {value} outside 0..{spec.top} ({spec.size} octets)")
    elif kind == CSTRING:
        if not isinstance(value, str):
            raise _bad(tag, f"value must be a str, got {type(value).__name__}")
        if "\0" in value:
            raise _bad(tag, "C-octet string must not contain NUL")
        if len(value) > spec.max_len - 1:
            raise _bad(tag, f"{len(value)} characters, at most {spec.max_len - 1} allowed")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise _bad(tag, "C-octet string must be ASCII/Latin-1") from None
    else:
        if not isinstance(value, bytes):
            raise _bad(tag, f"value must be bytes, got {type(value).__name__}")
        if not spec.min_len <= len(value) <= spec.max_len:
            raise _bad(
                tag, f"{len(value)} octets, must be {spec.min_len}..{spec.max_len} octets"
            )


def _encode_one(tlv: Tlv) -> bytes:
    value = tlv.value
    if type(value) is bytes:
        raw = value
    elif type(value) is str:
        raw = value.encode("latin-1") + b"\0"
    else:
        spec = TLV_SPECS[tlv.tag]
        raw = _INT_STRUCTS[spec.size].pack(value)
    return _TL.pack(tlv.tag, len(raw)) + raw


def encode_tlvs(tlvs: tuple[Tlv, ...]) -> bytes:
    """The wire form of TLVs, in the order given."""
    return b"".join([_encode_one(t) for t in tlvs])


class TlvDecodeError(Exception):
    """Internal: the PDU decoder turns it into a PduDecodeError with the status."""

    def __init__(self, message: str, status: int, field: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# How decode_tlvs_checked reads a tag, by tag: (kind, a, b, prototype). Kinds: _BYTE, an int
# of one octet (``prototype`` is then a table of the 256 possible TLVs, filled as they are seen);
# _INT, an int of ``a`` octets; _CSTRING, a C-octet string of at most ``b`` octets with its NUL;
# _OCTETS, ``a`` to ``b`` octets; _PAYLOAD, message_payload. ``prototype`` is a valid Tlv with
# the tag: the decoder copies it and sets the value it checked, which builds a Tlv without
# running ``__post_init__`` again (a Python call per TLV) and without any trusted-construction
# window.
_BYTE: Final = 0
_INT: Final = 1
_CSTRING: Final = 2
_OCTETS: Final = 3
_PAYLOAD: Final = 4
_MESSAGE_PAYLOAD: Final = int(Tag.message_payload)


def _reader(tag: int, spec: TlvSpec) -> tuple[int, int, int, Any]:
    tag = int(tag)  # the wire gives plain ints; so must the prototypes
    if spec.kind is INT:
        if spec.size == 1:
            return (_BYTE, 1, 1, [None] * 256)
        return (_INT, spec.size, spec.size, Tlv(tag, 0))
    if spec.kind is CSTRING:
        return (_CSTRING, 0, spec.max_len, Tlv(tag, ""))
    kind = _PAYLOAD if tag == _MESSAGE_PAYLOAD else _OCTETS
    return (kind, spec.min_len, spec.max_len, Tlv(tag, bytes(spec.min_len)))


_READ: Final[dict[int, tuple[int, int, int, Any]]] = {
    tag: _reader(tag, spec) for tag, spec in TLV_SPECS.items()
}
_ANY: Final = Tlv(0xFFFF, b"")  # the prototype for tags TLV_SPECS does not know
_copy: Final = Tlv.__copy__  # type: ignore[attr-defined]
_set: Final = msgspec.structs.force_setattr

# The TLVs of the usual delivery receipt (SMPP 3.4 5.2.12): receipted_message_id, then
# message_state, nothing else. One match reads both; the sizes are what decode_tlvs_checked
# checks (an id of at most 64 octets, its NUL, a one-octet state), and the caller checks that
# the id's length field agrees with the match.
_RECEIPT_TLVS: Final = re.compile(
    b"\x00\x1e\x00(.)([^\x00]{0,64})\x00\x04\x27\x00\x01(.)", re.DOTALL
).fullmatch
_RECEIPTED_MESSAGE_ID: Final = _READ[Tag.receipted_message_id][3]
_MESSAGE_STATES: Final = _READ[Tag.message_state][3]


def decode_tlvs_checked(
    body: bytes, pos: int, short_message: object = b""
) -> tuple[Tlv, ...] | None:
    """The hot path of :func:`decode_tlvs` for the PDU decoders: the TLVs from ``body[pos:]``
    (a ``bytes``), or None when anything is wrong — including a message_payload beside a
    truthy ``short_message`` — and the validating decoders then say what.

    The values are checked here against :data:`TLV_SPECS` exactly as ``Tlv.__post_init__``
    would (the equivalence is tested), so each Tlv is a copy of its tag's prototype with the
    value set. One-octet ints (message_state, ...) repeat from PDU to PDU: they come from
    their tag's table of the values already built.
    """
    m = _RECEIPT_TLVS(body, pos)
    if m is not None:
        length, message_id, state = m.groups()
        if length[0] == len(message_id) + 1:
            tlv = _copy(_RECEIPTED_MESSAGE_ID)
            _set(tlv, "value", message_id.decode("latin-1"))
            state_tlv = _MESSAGE_STATES[state[0]]
            if state_tlv is None:
                state_tlv = _MESSAGE_STATES[state[0]] = Tlv(Tag.message_state.value, state[0])
            return tlv, state_tlv
    end = len(body)
    out: list[Tlv] = []
    append = out.append
    unpack = _TL.unpack_from
    read = _READ.get
    copy = _copy
    set_ = _set
    try:
        while pos < end:
            tag, length = unpack(body, pos)  # struct.error: fewer than 4 octets left
            pos += 4
            stop = pos + length
            if stop > end:
                return None
            spec = read(tag)
            if spec is None:  # a tag we do not know: its octets as they came
                tlv = copy(_ANY)
                set_(tlv, "tag", tag)
                set_(tlv, "value", body[pos:stop])
            else:
                # (The kinds as literals: a global lookup each would cost more than the test.)
                kind, a, b, proto = spec
                if kind == 2:  # _CSTRING
                    nul = body.find(0, pos, stop)
                    if nul < 0:
                        nul = stop  # tolerate a missing terminator, as decode_tlvs does
                    elif nul != stop - 1:
                        return None  # a NUL inside the string
                    if nul - pos >= b:
                        return None
                    tlv = copy(proto)
                    set_(tlv, "value", body[pos:nul].decode("latin-1"))
                elif kind == 0:  # _BYTE
                    if length != 1:
                        return None
                    value = body[pos]
                    tlv = proto[value]
                    if tlv is None:
                        tlv = proto[value] = Tlv(tag, value)
                elif kind == 1:  # _INT
                    if length != a:
                        return None
                    tlv = copy(proto)
                    set_(tlv, "value", int.from_bytes(body[pos:stop], "big"))
                else:  # _OCTETS, _PAYLOAD
                    if not a <= length <= b or (kind == 4 and short_message):
                        return None
                    tlv = copy(proto)
                    set_(tlv, "value", body[pos:stop])
            append(tlv)
            pos = stop
    except struct.error:
        return None
    return tuple(out)


def decode_tlvs(body: bytes, pos: int) -> tuple[Tlv, ...]:
    """Decode the TLVs from ``body[pos:]`` to the end."""
    if type(body) is bytes:
        checked = decode_tlvs_checked(body, pos)
        if checked is not None:
            return checked
    # Something is wrong (or body is not bytes): the walk says what.
    return _decode_tlvs_walk(body, pos)


def _decode_tlvs_walk(body: bytes, pos: int) -> tuple[Tlv, ...]:
    """:func:`decode_tlvs` one TLV at a time, each validated by ``Tlv`` itself."""
    end = len(body)
    out: list[Tlv] = []
    while pos < end:
        if end - pos < 4:
            raise TlvDecodeError(
                f"{end - pos} trailing octets are too short for a TLV header",
                CommandStatus.ESME_RINVOPTPARSTREAM,
                "tlvs",
            )
        tag, length = _TL.unpack_from(body, pos)
        pos += 4
        if pos + length > end:
            raise TlvDecodeError(
                f"{_tag_name(tag)} claims {length} octets, only {end - pos} left",
                CommandStatus.ESME_RINVOPTPARSTREAM,
                _tag_name(tag),
            )
        raw = body[pos : pos + length]
        pos += length
        spec = TLV_SPECS.get(tag)
        value: int | str | bytes
        if spec is None or spec.kind == OCTETS:
            value = raw
        elif spec.kind == CSTRING:
            # Tolerate a missing terminator: some SMSCs send receipted_message_id without it.
            value = (raw[:-1] if raw[-1:] == b"\0" else raw).decode("latin-1")
        elif length == spec.size:
            value = int.from_bytes(raw, "big")
        else:
            raise TlvDecodeError(
                f"{_tag_name(tag)} must be {spec.size} octets, got {length}",
                CommandStatus.ESME_RINVPARLEN,
                _tag_name(tag),
            )
        try:
            out.append(Tlv(tag, value))
        except InvalidPduError as exc:
            raise TlvDecodeError(str(exc), exc.status, exc.field) from None
    return tuple(out)
