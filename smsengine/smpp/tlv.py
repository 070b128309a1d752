"""SMPP optional parameters (TLVs), SMPP 3.4 section 5.3.

A :class:`Tlv` is a tag and a typed value: ``int`` for the Integer parameters, ``str`` for the
C-Octet String ones (without the NUL), ``bytes`` for Octet Strings and for every tag this module
does not know — those are kept byte-exact and re-encoded as they came.
"""

from __future__ import annotations

import struct
from threading import get_ident
from typing import Final

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


#: Trusted construction. The wire decoders check every value themselves while reading it, then
#: build the struct with this slot holding their thread's id, and ``__post_init__`` skips the
#: (redundant) validation when the slot holds the constructing thread's own id. The slot is set
#: right before the constructor call and cleared right after: in between runs only the
#: construction of a ``gc=False`` struct, which allocates nothing the cyclic collector tracks and
#: so cannot run a finalizer (other Python code) inside the window. One slot for all threads: a
#: race between threads can only cost a validation, never skip one, since a thread sees its own
#: id only between its own set and clear.
_TRUSTED: list[int | None] = [None]


class Tlv(msgspec.Struct, frozen=True, gc=False):
    """One optional parameter: ``Tlv(Tag.receipted_message_id, "1A2B")``."""

    tag: int
    value: int | str | bytes

    def __post_init__(self) -> None:
        owner = _TRUSTED[0]
        if owner is not None and owner == get_ident():
            return  # built by decode_tlvs_checked from checked wire octets
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


# How decode_tlvs_checked reads a known tag: (kind, a, b) with kind 0: an int of ``a``
# octets (b unused); 1: a C-octet string of at most ``b`` octets with its NUL; 2: ``a`` to ``b``
# octets.
_READ: Final[dict[int, tuple[int, int, int]]] = {
    tag: (0, spec.size, 0) if spec.kind is INT
    else (1, 0, spec.max_len) if spec.kind is CSTRING
    else (2, spec.min_len, spec.max_len)
    for tag, spec in TLV_SPECS.items()
}
_MESSAGE_PAYLOAD: Final = int(Tag.message_payload)


def decode_tlvs_checked(body: bytes, pos: int) -> tuple[tuple[Tlv, ...], bool] | None:
    """The hot path of :func:`decode_tlvs` for the PDU decoders: the TLVs from ``body[pos:]``
    (a ``bytes``) and whether message_payload is among them — or None when anything is wrong,
    and :func:`decode_tlvs` then says what.

    The values are checked here against :data:`TLV_SPECS` exactly as ``Tlv.__post_init__``
    would (which then need not run again). Short TLVs (message_state, network_error_code, ...)
    repeat from PDU to PDU: they come from a small cache of the values already built.
    """
    end = len(body)
    out: list[Tlv] = []
    payload = False
    unpack = _TL.unpack_from
    cached = _CACHE.get
    try:
        while pos < end:
            tag, length = unpack(body, pos)  # struct.error: fewer than 4 octets left
            stop = pos + 4 + length
            if stop > end:
                return None
            if tag == _MESSAGE_PAYLOAD:
                payload = True
            if length <= _CACHED_LENGTH:
                key = body[pos:stop]
                tlv = cached(key)
                if tlv is None:
                    tlv = _read_tlv(body, pos + 4, stop, tag, length)
                    if tlv is None:
                        return None
                    if len(_CACHE) < _CACHE_SIZE:
                        _CACHE[key] = tlv
            else:
                tlv = _read_tlv(body, pos + 4, stop, tag, length)
                if tlv is None:
                    return None
            out.append(tlv)
            pos = stop
    except struct.error:
        return None
    return tuple(out), payload


# Built TLVs by their wire octets (header included), for values of at most _CACHED_LENGTH
# octets; bounded, and a value is a function of its octets, so sharing one is safe.
_CACHE: Final[dict[bytes, Tlv]] = {}
_CACHE_SIZE: Final = 4096
_CACHED_LENGTH: Final = 4


def _read_tlv(body: bytes, pos: int, stop: int, tag: int, length: int) -> Tlv | None:
    """The TLV whose value is ``body[pos:stop]``, or None when the value is not valid."""
    spec = _READ.get(tag)
    value: int | str | bytes
    if spec is None:
        value = body[pos:stop]
    else:
        kind, a, b = spec
        if kind == 0:
            if length != a:
                return None
            value = int.from_bytes(body[pos:stop], "big")
        elif kind == 1:
            # Tolerate a missing terminator, as decode_tlvs does.
            raw = body[pos : stop - 1] if length and body[stop - 1] == 0 else body[pos:stop]
            if len(raw) >= b or 0 in raw:
                return None
            value = raw.decode("latin-1")
        else:
            if not a <= length <= b:
                return None
            value = body[pos:stop]
    _TRUSTED[0] = get_ident()
    try:
        tlv = Tlv(tag, value)
    finally:
        _TRUSTED[0] = None
    return tlv


def decode_tlvs(body: bytes, pos: int) -> tuple[Tlv, ...]:
    """Decode the TLVs from ``body[pos:]`` to the end."""
    if type(body) is bytes:
        checked = decode_tlvs_checked(body, pos)
        if checked is not None:
            return checked[0]
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
