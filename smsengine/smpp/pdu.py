"""SMPP 3.4 PDUs as immutable typed values, with their wire encoding and decoding.

Each PDU is a frozen ``msgspec.Struct`` whose body fields are declared in the specification's
order (SMPP 3.4 chapter 4) with an ``Annotated`` marker saying how the field sits on the wire:
an integer octet, a C-octet string of a maximum size, an SMPP time, the sm_length/short_message
pair or a counted list. From those declarations each class gets, once at import, a generated
validator, encoder and decoder — straight-line code with no per-field interpretation, which is
what makes the codec fast in pure Python (the same trick as ``dataclasses``).

Header fields: every PDU has ``sequence_number``; responses and ``generic_nack`` also have
``command_status``; every PDU has ``tlvs`` (SMPP 3.4 allows optional parameters on a few PDUs,
SMPP 5.0 on many more; we decode them wherever they appear rather than reject the PDU).

For the submit_sm hot path, :class:`SubmitSmTemplate` validates and encodes a sender's constant
fields once and turns each message into an :class:`EncodedRequest` (body octets only), byte for
byte what the :class:`SubmitSm` would encode to.
"""

from __future__ import annotations

import re
import struct
import typing
from collections.abc import Callable, Iterator
from threading import get_ident
from typing import Annotated, Any, ClassVar, Final

import msgspec

from .constants import RESPONSE_BIT, CommandId, CommandStatus, Tag
from .errors import InvalidPduError, PduDecodeError, status_name
from .tlv import _RECEIPT_TLVS, Tlv, TlvDecodeError, decode_tlvs, decode_tlvs_checked, encode_tlvs

__all__ = [
    "HEADER",
    "HEADER_LENGTH",
    "PDU_CLASSES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DistributionList",
    "EncodedRequest",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Pdu",
    "QuerySm",
    "QuerySmResp",
    "ReceiptTlvs",
    "ReplaceSm",
    "ReplaceSmResp",
    "Request",
    "Response",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "SubmitSmTemplate",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "decode_body",
    "decode_pdu",
    "decode_receipt_tlvs",
]

#: command_length, command_id, command_status, sequence_number — all big-endian u32.
HEADER: Final = struct.Struct(">IIII")
HEADER_LENGTH: Final = 16
_U32 = struct.Struct(">I")
_STATUS_ENUM: Final = {s.value: s for s in CommandStatus}

#: Trusted construction. The wire decoders check every value themselves while reading it, then
#: build the PDU with this slot holding their thread's id, and ``__post_init__`` skips the
#: (redundant) validation when the slot holds the constructing thread's own id. The slot is set
#: right before the constructor call and cleared right after: in between runs only the
#: construction of a ``gc=False`` struct, which allocates nothing the cyclic collector tracks and
#: so cannot run a finalizer (other Python code) inside the window. One slot for all threads: a
#: race between threads can only cost a validation, never skip one, since a thread sees its own
#: id only between its own set and clear.
_TRUSTED: list[int | None] = [None]

# --- wire markers ---------------------------------------------------------------------------


class _Octet:
    """An Integer field of one octet."""


class _Uint32:
    """An Integer field of four octets (only submit_multi_resp's error_status_code)."""


class _CString:
    """A C-octet string of at most ``max_len`` octets including the terminating NUL."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len


class _Time:
    """An SMPP time (section 7.1.1): empty, or 16 characters ``YYMMDDhhmmsstnnp``."""


class _ShortMessage:
    """The sm_length octet followed by that many octets of short_message (0..254)."""


class _DestList:
    """number_of_dests followed by dest_address entries (submit_multi)."""


class _UnsuccessList:
    """no_unsuccess followed by unsuccess_sme entries (submit_multi_resp)."""


_OCTET = _Octet()
U8 = Annotated[int, _OCTET]
Str6 = Annotated[str, _CString(6)]
Str9 = Annotated[str, _CString(9)]
Str13 = Annotated[str, _CString(13)]
Str16 = Annotated[str, _CString(16)]
Str21 = Annotated[str, _CString(21)]
Str41 = Annotated[str, _CString(41)]
Str65 = Annotated[str, _CString(65)]
Time = Annotated[str, _Time()]
ShortMessage = Annotated[bytes, _ShortMessage()]

# The command_status that describes a bad value in a field, by the field's spec name.
_FIELD_STATUS: Final[dict[str, CommandStatus]] = {
    "system_id": CommandStatus.ESME_RINVSYSID,
    "password": CommandStatus.ESME_RINVPASWD,
    "system_type": CommandStatus.ESME_RINVSYSTYP,
    "interface_version": CommandStatus.ESME_RBINDFAIL,
    "addr_ton": CommandStatus.ESME_RBINDFAIL,
    "addr_npi": CommandStatus.ESME_RBINDFAIL,
    "address_range": CommandStatus.ESME_RBINDFAIL,
    "service_type": CommandStatus.ESME_RINVSERTYP,
    "source_addr_ton": CommandStatus.ESME_RINVSRCTON,
    "source_addr_npi": CommandStatus.ESME_RINVSRCNPI,
    "source_addr": CommandStatus.ESME_RINVSRCADR,
    "dest_addr_ton": CommandStatus.ESME_RINVDSTTON,
    "dest_addr_npi": CommandStatus.ESME_RINVDSTNPI,
    "destination_addr": CommandStatus.ESME_RINVDSTADR,
    "esme_addr_ton": CommandStatus.ESME_RINVDSTTON,
    "esme_addr_npi": CommandStatus.ESME_RINVDSTNPI,
    "esme_addr": CommandStatus.ESME_RINVDSTADR,
    "esm_class": CommandStatus.ESME_RINVESMCLASS,
    "priority_flag": CommandStatus.ESME_RINVPRTFLG,
    "schedule_delivery_time": CommandStatus.ESME_RINVSCHED,
    "validity_period": CommandStatus.ESME_RINVEXPIRY,
    "registered_delivery": CommandStatus.ESME_RINVREGDLVFLG,
    "replace_if_present_flag": CommandStatus.ESME_RINVREPFLAG,
    "sm_default_msg_id": CommandStatus.ESME_RINVDFTMSGID,
    "short_message": CommandStatus.ESME_RINVMSGLEN,
    "message_id": CommandStatus.ESME_RINVMSGID,
    "dest_address": CommandStatus.ESME_RINVNUMDESTS,
    "dl_name": CommandStatus.ESME_RINVDLNAME,
    "unsuccess_sme": CommandStatus.ESME_RINVNUMDESTS,
    "sequence_number": CommandStatus.ESME_RINVCMDLEN,
    "tlvs": CommandStatus.ESME_RINVOPTPARSTREAM,
}


def _field_status(name: str) -> int:
    return _FIELD_STATUS.get(name, CommandStatus.ESME_RUNKNOWNERR)


def _invalid(name: str, message: str) -> InvalidPduError:
    return InvalidPduError(f"{name}: {message}", field=name, status=_field_status(name))


def _time_ok(value: str) -> bool:
    return len(value) == 16 and value.isascii() and value[:15].isdigit() and value[15] in "+-R"


# --- slow-path checks: run only when the generated fast check fails, to name what is wrong ----


def _check_octet(name: str, value: object) -> None:
    if not isinstance(value, int):
        raise _invalid(name, f"must be an int 0..255, got {type(value).__name__} {value!r}")
    if not 0 <= value <= 255:
        raise _invalid(name, f"{value} is outside 0..255 (one octet)")


def _check_cstring(name: str, value: object, max_len: int) -> None:
    if not isinstance(value, str):
        raise _invalid(name, f"must be a str, got {type(value).__name__} {value!r}")
    if "\0" in value:
        raise _invalid(name, "a C-octet string cannot contain NUL")
    if len(value) > max_len - 1:
        raise _invalid(
            name,
            f"{len(value)} characters, at most {max_len - 1} allowed "
            f"(C-octet string of {max_len} octets including the NUL)",
        )
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise _invalid(name, "a C-octet string holds ASCII/Latin-1 characters only") from None


def _check_time(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise _invalid(name, f"must be a str, got {type(value).__name__} {value!r}")
    if value and not _time_ok(value):
        raise _invalid(
            name,
            f"{value!r} is not an SMPP time: empty or 16 characters YYMMDDhhmmsstnnp "
            "with p one of '+', '-', 'R'",
        )


def _check_short_message(name: str, value: object) -> None:
    if not isinstance(value, bytes):
        raise _invalid(name, f"must be bytes, got {type(value).__name__}")
    if len(value) > 254:
        raise _invalid(
            name,
            f"{len(value)} octets, at most 254 allowed (send longer text in message_payload)",
        )


def _check_list(name: str, value: object, kinds: tuple[type, ...], lo: int) -> None:
    if not isinstance(value, tuple):
        raise _invalid(name, f"must be a tuple, got {type(value).__name__}")
    if not lo <= len(value) <= 254:
        raise _invalid(name, f"{len(value)} entries, must be {lo}..254")
    for item in value:
        if not isinstance(item, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise _invalid(name, f"entries must be {names}, got {type(item).__name__}")


def _check_tlvs(pdu: Pdu) -> bool:
    """True, or raise: the tlvs are Tlv values and do not clash with short_message."""
    tlvs = pdu.tlvs
    if type(tlvs) is not tuple or not all(type(t) is Tlv for t in tlvs):
        raise _invalid("tlvs", "must be a tuple of Tlv")
    if getattr(pdu, "short_message", b"") and any(
        t.tag == Tag.message_payload for t in tlvs
    ):
        raise InvalidPduError(
            "short_message and message_payload are both set; SMPP allows one or the other "
            "(sm_length must be 0 when message_payload is used)",
            field="message_payload",
            status=CommandStatus.ESME_ROPTPARNOTALLWD,
        )
    return True


def _check_header(pdu: Pdu) -> None:
    for name in ("sequence_number", "command_status"):
        value = getattr(pdu, name, 0)
        if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise _invalid(name, f"{value!r} is not a 32-bit unsigned int")


# --- code generation --------------------------------------------------------------------------

_HEADER_FIELDS: Final = frozenset({"sequence_number", "command_status", "tlvs"})


def _layout(cls: type) -> list[tuple[str, object]]:
    """(field name, wire marker) for the body fields of a Struct class, in declaration order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for name in cls.__struct_fields__:  # type: ignore[attr-defined]
        if name in _HEADER_FIELDS:
            continue
        meta = getattr(hints[name], "__metadata__", ())
        if not meta:
            raise TypeError(f"{cls.__name__}.{name} has no wire marker")
        out.append((name, meta[0]))
    return out


def _explain(obj: Any, layout: list[tuple[str, object]]) -> None:
    """Find and report the bad field; return quietly if every field is in fact fine."""
    if isinstance(obj, Pdu):
        _check_header(obj)
    for name, marker in layout:
        value = getattr(obj, name)
        if isinstance(marker, _Octet):
            _check_octet(name, value)
        elif isinstance(marker, _Uint32):
            if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
                raise _invalid(name, f"{value!r} is not a 32-bit unsigned int")
        elif isinstance(marker, _CString):
            _check_cstring(name, value, marker.max_len)
        elif isinstance(marker, _Time):
            _check_time(name, value)
        elif isinstance(marker, _ShortMessage):
            _check_short_message(name, value)
        elif isinstance(marker, _DestList):
            _check_list(name, value, (SmeAddress, DistributionList), 1)
        elif isinstance(marker, _UnsuccessList):
            _check_list(name, value, (UnsuccessSme,), 0)
    if isinstance(obj, Pdu):
        _check_tlvs(obj)


def _compile(source: str, name: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    exec(compile(source, f"<smsengine.smpp generated {name}>", "exec"), namespace)
    fn: Callable[..., Any] = namespace[name]
    return fn


def _gen_validator(cls: type, layout: list[tuple[str, object]], is_pdu: bool) -> Callable[..., Any]:
    """A function that checks every field with one boolean expression, or explains the fault."""
    loads = [f"    {n} = self.{n}" for n, _ in layout]
    octets = [n for n, m in layout if isinstance(m, _Octet)]
    terms: list[str] = []
    if is_pdu:
        header = ["self.sequence_number"]
        if "command_status" in cls.__struct_fields__:  # type: ignore[attr-defined]
            header.append("self.command_status")
        terms.append(f"({' | '.join(header)}) >> 32 == 0")
    if octets:
        # OR-ing the octets checks them all at once: a negative value or one above 255 leaves
        # bits above bit 7; a non-int raises TypeError.
        terms.append(f"({' | '.join(octets)}) >> 8 == 0")
    strings = [n for n, m in layout if isinstance(m, (_CString, _Time))]
    for n, m in layout:
        if isinstance(m, _CString):
            terms.append(f"len({n}) < {m.max_len}")
        elif isinstance(m, _Uint32):
            terms.append(f"{n} >> 32 == 0")
        elif isinstance(m, _Time):
            terms.append(f"(not {n} or _time_ok({n}))")
        elif isinstance(m, _ShortMessage):
            terms.append(f"type({n}) is bytes and len({n}) <= 254")
        elif isinstance(m, _DestList):
            terms.append(f"type({n}) is tuple and 0 < len({n}) <= 254 and _dests_ok({n})")
        elif isinstance(m, _UnsuccessList):
            terms.append(f"type({n}) is tuple and len({n}) <= 254 and _unsuccess_ok({n})")
    if strings:
        # One concatenation checks every string at once: a non-str raises TypeError (slow
        # path), and a single isascii/NUL scan covers them all. Latin-1 text and str subclasses
        # fail here and are accepted by the slow path.
        joined = " + ".join(f"{n}" for n in strings)
        terms.append(f"type(_s := {joined}) is str and _s.isascii() and '\\0' not in _s")
    if is_pdu:
        terms.append("(not self.tlvs or _check_tlvs(self))")
    expr = " and ".join(terms) if terms else "True"
    src = "\n".join(
        [
            "def _validate(self):",
            *loads,
            "    try:",
            f"        ok = {expr}",
            "    except TypeError:",
            "        ok = False",
            "    if not ok:",
            "        _explain(self, LAYOUT)",
        ]
    )
    ns = {
        "_explain": _explain,
        "LAYOUT": layout,
        "_time_ok": _time_ok,
        "_dests_ok": _dests_ok,
        "_unsuccess_ok": _unsuccess_ok,
        "_check_tlvs": _check_tlvs,
    }
    return _compile(src, "_validate", ns)


def _gen_encoder(cls: type[Pdu], layout: list[tuple[str, object]]) -> Callable[..., bytes]:
    """``encode(self, sequence_number=None) -> bytes``: the PDU with its header."""
    fmt = b""
    args: list[str] = []
    for n, m in layout:
        if isinstance(m, _Octet):
            fmt += b"%c"
            args.append(f"self.{n}")
        elif isinstance(m, (_CString, _Time)):
            fmt += b"%b\0"
            # Most optional strings are empty; skipping their encode call is measurable.
            args.append(f"(self.{n}.encode('latin-1') if self.{n} else b'')")
        elif isinstance(m, _ShortMessage):
            fmt += b"%c%b"
            args += [f"len(self.{n})", f"self.{n}"]
        elif isinstance(m, _DestList):
            fmt += b"%b"
            args.append(f"_enc_dests(self.{n})")
        elif isinstance(m, _UnsuccessList):
            fmt += b"%b"
            args.append(f"_enc_unsuccess(self.{n})")
    lines = ["def encode(self, sequence_number=None):"]
    if args:
        lines.append(f"    body = FMT % ({', '.join(args)},)")
    else:
        lines.append("    body = b''")
    lines += [
        "    if self.tlvs:",
        "        body += _encode_tlvs(self.tlvs)",
    ]
    status = "0"
    if issubclass(cls, Response):
        status = "self.command_status"
        if layout:
            # SMPP 3.4 4.4.2 and friends: the body is not returned with a non-zero status.
            empty = " or ".join(f"self.{n}" for n, _ in layout)
            lines += [
                f"    if self.command_status and not ({empty} or self.tlvs):",
                "        body = b''",
            ]
    lines += [
        "    if sequence_number is None:",
        "        sequence_number = self.sequence_number",
        "    elif not 0 <= sequence_number <= 0xFFFFFFFF:",
        "        _bad_seq(sequence_number)",
        f"    return _pack(16 + len(body), CID, {status}, sequence_number) + body",
    ]
    ns = {
        "FMT": fmt,
        "CID": int(cls.command_id),
        "_pack": HEADER.pack,
        "_encode_tlvs": encode_tlvs,
        "_enc_dests": _enc_dests,
        "_enc_unsuccess": _enc_unsuccess,
        "_bad_seq": _bad_seq,
    }
    return _compile("\n".join(lines), "encode", ns)


class _Malformed(Exception):
    """Internal: a body field could not be read; the dispatcher adds the header details."""

    def __init__(self, field: str, status: int, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _gen_decoder(cls: type[Pdu], layout: list[tuple[str, object]]) -> Callable[..., Pdu]:
    """``decode(body, sequence_number, command_status) -> Pdu`` for a body without header.

    Runs of octets and C-octet strings are read by one compiled regular expression each (one C
    call instead of a Python statement per field); a short_message or a counted list ends a run.
    When a run does not match, :func:`_diagnose` walks the body field by field to say which
    field is cut short. Over-long strings match and are then refused by the class's validator,
    which names the field and its limit.
    """
    is_resp = issubclass(cls, Response)
    ns: dict[str, Any] = {
        "CLS": cls,
        "LAYOUT": layout,
        "_Malformed": _Malformed,
        "_diagnose": _diagnose,
        "_decode_tlvs": decode_tlvs,
        "_dec_list": _dec_list,
        "_dec_dests": _dec_dests,
        "_dec_unsuccess": _dec_unsuccess,
        "SM_STATUS": CommandStatus.ESME_RINVMSGLEN,
    }
    lines = ["def decode(body, seq, status):"]
    if is_resp and layout:
        # Many SMSCs (and the spec, on error) send responses with no body at all.
        lines += [
            "    if not body:",
            "        return CLS(sequence_number=seq, command_status=status)",
        ]
    lines.append("    p = 0")
    values: list[str] = []  # keyword arguments for CLS, in layout order
    run: list[tuple[str, object]] = []

    def flush() -> None:
        if not run:
            return
        rx_name = f"RX{len([k for k in ns if k.startswith('RX')])}"
        pattern = b""
        for _, m in run:
            pattern += b"(.)" if isinstance(m, (_Octet, _ShortMessage)) else b"([^\0]*)\0"
        ns[rx_name] = re.compile(pattern, re.DOTALL)
        names = [f"_{n}" for n, _ in run]
        lines.extend(
            [
                f"    m = {rx_name}.match(body, p)",
                "    if m is None:",
                "        _diagnose(body, LAYOUT)",
                f"    {', '.join(names)}{',' if len(names) == 1 else ''} = m.groups()",
                "    p = m.end()",
            ]
        )
        for n, m in run:
            if isinstance(m, _Octet):
                values.append(f"{n}=_{n}[0]")
            elif isinstance(m, _ShortMessage):
                lines.extend(
                    [
                        f"    k = _{n}[0]",
                        f"    {n} = body[p : p + k]",
                        "    p += k",
                        f"    if len({n}) != k:",
                        f"        raise _Malformed({n!r}, SM_STATUS, "
                        f"f'sm_length {{k}} runs past the end of the body "
                        f"({{len({n})}} octets left)')",
                    ]
                )
                values.append(f"{n}={n}")
            else:
                values.append(f"{n}=_{n}.decode('latin-1')")
        run.clear()

    for n, m in layout:
        if isinstance(m, (_DestList, _UnsuccessList)):
            flush()
            fn = "_dec_dests" if isinstance(m, _DestList) else "_dec_unsuccess"
            lines.append(f"    {n}, p = _dec_list({fn}, {n!r}, body, p)")
            values.append(f"{n}={n}")
        else:
            run.append((n, m))
            if isinstance(m, _ShortMessage):
                flush()
    flush()
    lines.append("    tlvs = _decode_tlvs(body, p) if p < len(body) else ()")
    kwargs = ["sequence_number=seq", "tlvs=tlvs", *values]
    if is_resp:
        kwargs.append("command_status=status")
    lines.append(f"    return CLS({', '.join(kwargs)})")
    return _compile("\n".join(lines), "decode", ns)


# An SMPP time field in a checked decoder's pattern: empty, or what _time_ok accepts (15 ASCII
# digits and one of + - R), then the NUL.
_TIME_RX: Final = b"((?:[0-9]{15}[-+R])?)\0"

# At most this many keyword arguments in one generated constructor call (see below), and the
# fields that are usually set, which the shorter call must keep.
_MAX_KWARGS: Final = 15
_OFTEN_SET: Final = frozenset(
    {
        "source_addr_ton",
        "source_addr_npi",
        "source_addr",
        "dest_addr_ton",
        "dest_addr_npi",
        "destination_addr",
        "esm_class",
        "registered_delivery",
        "data_coding",
        "short_message",
        "message_id",
    }
)


def _gen_checked_decoder(
    cls: type[Pdu], layout: list[tuple[str, object]], slow: Callable[..., Pdu]
) -> Callable[..., Pdu]:
    """The hot-path decoder: ``decode(body, sequence_number, command_status) -> Pdu`` for a
    ``bytes`` body and 32-bit header values (the framer's; :func:`decode_body` checks others).

    It checks every field against the class's rules while reading it — C-octet string sizes and
    SMPP times by the regular expression itself, sm_length and list counts by a comparison, TLVs
    by :func:`decode_tlvs_checked` — and so builds the PDU as trusted (see ``_TRUSTED``),
    without running the validator a second time. Whenever anything is off it hands the body to
    ``slow`` (the decoder from :func:`_gen_decoder` wrapped by :func:`_reporting`), which reads
    the body again, field by field where needed, and raises the PduDecodeError that names the
    field with its status; a malformed PDU is rare, so reading it twice costs nothing that
    matters. Like :func:`decode_body` it raises nothing else.
    """
    if any(isinstance(m, _DestList | _UnsuccessList) for _, m in layout):
        return slow  # submit_multi and its response: rare enough to validate the usual way
    ns: dict[str, Any] = {
        "CLS": cls,
        "SLOW": slow,
        "_tlvs": decode_tlvs_checked,
        "_ident": get_ident,
        "_TRUST": _TRUSTED,
        "_STATUS_ENUM_GET": _STATUS_ENUM.get,
        "_ROK": CommandStatus.ESME_ROK,
    }
    has_sm = any(isinstance(m, _ShortMessage) for _, m in layout)
    lines = ["def decode(body, seq, status):"]
    kwargs = ["sequence_number=seq"]
    if issubclass(cls, Response):
        kwargs.append("command_status=status")
        lines.append("    status = _STATUS_ENUM_GET(status, status) if status else _ROK")

    fields = cls.__struct_fields__
    default_of = dict(
        zip(fields[len(fields) - len(cls.__struct_defaults__) :], cls.__struct_defaults__,
            strict=True)
    )
    if len(layout) <= 1 and all(n in default_of for n, _ in layout):
        # A response with a message_id or a system_id, or a PDU that is only a header: a copy
        # of a prototype with the few non-default fields set costs less than the constructor
        # with its __post_init__, and needs no trusted window. (The decoder gives command_status
        # 0 as ESME_ROK: so does the prototype.)
        ns["PROTO"] = (
            cls(command_status=CommandStatus.ESME_ROK) if issubclass(cls, Response) else cls()
        )
        ns["_copy"] = cls.__copy__  # type: ignore[attr-defined]
        ns["_set"] = msgspec.structs.force_setattr

    def construct(indent: str, args: list[str]) -> list[str]:
        if "PROTO" in ns:
            out = [f"{indent}pdu = _copy(PROTO)"]
            for arg in args:
                name, value = arg.split("=")
                setter = f"_set(pdu, {name!r}, {value})"
                if name == "sequence_number" or default_of[name]:
                    out.append(f"{indent}{setter}")  # (sequence_number: rarely the default)
                else:
                    out.append(f"{indent}if {value}:")  # else the prototype's value is the same
                    out.append(f"{indent}    {setter}")
            return [*out, f"{indent}return pdu"]
        return [
            f"{indent}_TRUST[0] = _ident()",
            f"{indent}try:",
            f"{indent}    pdu = CLS({', '.join(args)})",
            f"{indent}finally:",
            f"{indent}    _TRUST[0] = None",
            f"{indent}return pdu",
        ]

    if issubclass(cls, Response) and layout:
        lines += ["    if not body:", *construct("        ", kwargs)]
    lines.append("    p = 0")
    values: list[str] = []
    groups: list[tuple[str, str]] = []  # regular-expression groups of the run: (kind, target)
    pattern = b""
    octets: list[str] = []  # field names of the octet run being collected

    def end_octets() -> None:
        nonlocal pattern
        if octets:
            pattern += b"(.)" if len(octets) == 1 else b"(.{%d})" % len(octets)
            groups.append(("octets", ",".join(octets)))
            octets.clear()

    def flush() -> None:
        nonlocal pattern
        end_octets()
        if not groups:
            return
        if len(groups) == 1 and groups[0][0] == "str" and pattern.startswith(b"([^\0]{0,"):
            # A lone C-octet string (the message_id of most responses): find its NUL.
            name = groups[0][1]
            size = int(pattern[len(b"([^\0]{0,") :].split(b"}")[0]) + 1
            lines.extend(
                [
                    "    e = body.find(0, p)",
                    f"    if not 0 <= e - p < {size}:",
                    "        return SLOW(body, seq, status)",
                    f"    {name} = body[p:e].decode('latin-1') if e > p else ''",
                    "    p = e + 1",
                ]
            )
            groups.clear()
            pattern = b""
            return
        rx = f"RX{sum(1 for k in ns if k.startswith('RX'))}"
        ns[rx] = re.compile(pattern, re.DOTALL)
        names = [f"_g{i}" for i in range(len(groups))]

        def unpack(names: list[str]) -> str:
            return f"{', '.join(names)}{',' if len(names) == 1 else ''} = m.groups()"

        times = [g for g, (kind, _) in zip(names, groups, strict=True) if kind == "time"]
        if times and has_sm:
            # schedule_delivery_time and validity_period are nearly always empty (deliver_sm:
            # always): first try a pattern without them, which is cheaper to match and has fewer
            # groups to build. Where it matches, so does the full pattern, with empty times.
            ns[f"{rx}E"] = re.compile(pattern.replace(_TIME_RX, b"\0"), re.DOTALL)
            lines.extend(
                [
                    f"    m = {rx}E.match(body, p)",
                    "    if m is not None:",
                    f"        {unpack([g for g in names if g not in times])}",
                    f"        {' = '.join(times)} = b''",
                    "    else:",
                    f"        m = {rx}.match(body, p)",
                    "        if m is None:",
                    "            return SLOW(body, seq, status)",
                    f"        {unpack(names)}",
                ]
            )
        else:
            lines.extend(
                [
                    f"    m = {rx}.match(body, p)",
                    "    if m is None:",
                    "        return SLOW(body, seq, status)",
                    f"    {unpack(names)}",
                ]
            )
        lines.append("    p = m.end()")
        for g, (kind, target) in zip(names, groups, strict=True):
            if kind == "octets":
                # Iterating bytes gives the octets as ints.
                lines.append(f"    {target}{',' if ',' not in target else ''} = {g}")
            else:
                lines.append(f"    {target} = {g}.decode('latin-1') if {g} else ''")
        groups.clear()
        pattern = b""

    for n, m in layout:
        if isinstance(m, _Octet):
            octets.append(n)
        elif isinstance(m, _ShortMessage):
            octets.append("k")
            flush()
            lines += [
                "    if k > 254:",
                "        return SLOW(body, seq, status)",
                f"    {n} = body[p : p + k]",
                "    p += k",
                f"    if len({n}) != k:",
                "        return SLOW(body, seq, status)",
            ]
        else:
            end_octets()
            if isinstance(m, _CString):
                pattern += b"([^\0]{0,%d})\0" % (m.max_len - 1)
            elif isinstance(m, _Time):
                pattern += _TIME_RX
            else:  # pragma: no cover - every marker is handled above
                raise TypeError(f"{cls.__name__}.{n}: unknown wire marker {m!r}")
            groups.append(("time" if isinstance(m, _Time) else "str", n))
        values.append(f"{n}={n}")
    flush()
    lines += [
        "    if p == len(body):",
        "        tlvs = ()",
        "    else:",
        # (With short_message: None for a message_payload beside it too, the validator's
        # error, which SLOW reports.)
        f"        tlvs = _tlvs(body, p{', short_message' if has_sm else ''})",
        "        if tlvs is None:",
        "            return SLOW(body, seq, status)",
    ]
    args = [*kwargs, "tlvs=tlvs", *values]
    if len(args) > _MAX_KWARGS:
        # CPython 3.11 compiles a call with more than 15 keyword arguments into building a
        # dict and unpacking it again, which costs more than the rest of the construction. Most
        # PDUs leave several fields at their (falsy) defaults: leave those out when they are.
        rare = [
            n
            for n, m in layout
            if n not in _OFTEN_SET and isinstance(m, _Octet | _CString | _Time)
            and n in default_of and not default_of[n]
        ][: len(args) - _MAX_KWARGS]
        if len(args) - len(rare) <= _MAX_KWARGS:
            lines.append(f"    if not ({' or '.join(rare)}):")
            lines += construct("        ", [a for a in args if a.split("=")[0] not in rare])
    lines += construct("    ", args)
    return _compile("\n".join(lines), "decode", ns)


def _dec_list(
    fn: Callable[[bytes, int], tuple[Any, int]], name: str, body: bytes, p: int
) -> tuple[Any, int]:
    try:
        return fn(body, p)
    except InvalidPduError:
        raise  # a value out of bounds: the dispatcher reports it with the field's own status
    except IndexError:
        raise _Malformed(name, CommandStatus.ESME_RINVCMDLEN, f"body ends inside {name}") from None
    except ValueError:
        raise _Malformed(
            name, CommandStatus.ESME_RINVCMDLEN, f"{name} has a C-octet string without NUL"
        ) from None


def _diagnose(body: bytes, layout: list[tuple[str, object]]) -> None:
    """Walk the body field by field and raise _Malformed naming the first field cut short."""
    p = 0
    for name, m in layout:
        if isinstance(m, _Octet):
            if p >= len(body):
                break
            p += 1
        elif isinstance(m, _ShortMessage):
            if p >= len(body):
                break
            p += 1 + body[p]
        elif isinstance(m, (_DestList, _UnsuccessList)):
            fn = _dec_dests if isinstance(m, _DestList) else _dec_unsuccess
            _, p = _dec_list(fn, name, body, p)
        else:
            e = body.find(0, p)
            if e < 0:
                raise _Malformed(
                    name, CommandStatus.ESME_RINVCMDLEN, f"{name} has no NUL within the body"
                )
            p = e + 1
    else:
        raise _Malformed("body", CommandStatus.ESME_RINVCMDLEN, "body does not parse")
    raise _Malformed(name, CommandStatus.ESME_RINVCMDLEN, f"body ends before {name}")


def _bad_seq(value: object) -> None:
    raise _invalid("sequence_number", f"{value!r} is not a 32-bit unsigned int")


# --- base classes -------------------------------------------------------------------------------


class _Value(msgspec.Struct, frozen=True, kw_only=True, repr_omit_defaults=True, gc=False):
    """Validated on construction by the class's generated ``_validate``.

    ``gc=False``: a PDU holds only strings, bytes, ints and tuples of other PDU values, so it can
    never be part of a reference cycle; keeping millions of them (ledgers, in-flight windows)
    out of the cyclic garbage collector's scans is measurable.
    """

    _validate: ClassVar[Callable[..., None]]

    def __post_init__(self) -> None:
        owner = _TRUSTED[0]
        if owner is None or owner != get_ident():
            self._validate()  # (not built by a decoder that checked every field already)


class Pdu(_Value, frozen=True, kw_only=True, repr_omit_defaults=True):
    """Any SMPP PDU. ``encode()`` gives its bytes; :func:`decode_pdu` reads them back."""

    command_id: ClassVar[CommandId]
    sequence_number: int = 0
    tlvs: tuple[Tlv, ...] = ()

    _decode: ClassVar[Callable[[bytes, int, int], Pdu]]
    encode: ClassVar[Callable[..., bytes]]  # (self, sequence_number: int | None = None) -> bytes

    def tlv(self, tag: int, default: Any = None) -> Any:
        """The value of the first TLV with ``tag``, or ``default``."""
        for t in self.tlvs:
            if t.tag == tag:
                return t.value
        return default

    @property
    def command_name(self) -> str:
        return self.command_id.name


class Request(Pdu, frozen=True, kw_only=True, repr_omit_defaults=True):
    """A PDU that expects a response (or, for outbind and alert_notification, none)."""

    response_class: ClassVar[type[Response] | None] = None

    def response(self, command_status: int = 0, **fields: Any) -> Response:
        """The matching response, with this request's sequence_number."""
        if self.response_class is None:
            return GenericNack(sequence_number=self.sequence_number, command_status=command_status)
        return self.response_class(
            sequence_number=self.sequence_number, command_status=command_status, **fields
        )


class Response(Pdu, frozen=True, kw_only=True, repr_omit_defaults=True):
    """A response PDU; ``command_status`` is 0 on success."""

    command_status: int = 0

    @property
    def ok(self) -> bool:
        return self.command_status == 0

    @property
    def status_name(self) -> str:
        return status_name(self.command_status)


class _MessageMixin:
    """Shared helpers of PDUs that carry a short message."""

    __slots__ = ()
    tlvs: tuple[Tlv, ...]

    @property
    def message(self) -> bytes:
        """The user data: message_payload if present, else short_message (data_sm has none)."""
        for t in self.tlvs:
            if t.tag == Tag.message_payload and isinstance(t.value, bytes):
                return t.value
        short_message: bytes = getattr(self, "short_message", b"")
        return short_message


# --- submit_multi list entries ------------------------------------------------------------------


class SmeAddress(_Value, frozen=True, kw_only=True, repr_omit_defaults=True):
    """A submit_multi dest_address entry with dest_flag 1 (an SME address)."""

    dest_addr_ton: U8 = 0
    dest_addr_npi: U8 = 0
    destination_addr: Str21


class DistributionList(_Value, frozen=True, kw_only=True, repr_omit_defaults=True):
    """A submit_multi dest_address entry with dest_flag 2 (a distribution list name)."""

    dl_name: Str21


class UnsuccessSme(_Value, frozen=True, kw_only=True, repr_omit_defaults=True):
    """A submit_multi_resp unsuccess_sme entry: who failed and the error_status_code."""

    dest_addr_ton: U8 = 0
    dest_addr_npi: U8 = 0
    destination_addr: Str21
    error_status_code: Annotated[int, _Uint32()] = 0


def _dests_ok(items: tuple[object, ...]) -> bool:
    return all(type(i) is SmeAddress or type(i) is DistributionList for i in items)


def _unsuccess_ok(items: tuple[object, ...]) -> bool:
    return all(type(i) is UnsuccessSme for i in items)


def _cstr(value: str) -> bytes:
    return value.encode("latin-1") + b"\0"


def _enc_dests(items: tuple[SmeAddress | DistributionList, ...]) -> bytes:
    parts = [bytes((len(items),))]
    for d in items:
        if type(d) is SmeAddress:
            parts.append(bytes((1, d.dest_addr_ton, d.dest_addr_npi)) + _cstr(d.destination_addr))
        else:
            parts.append(b"\x02" + _cstr(d.dl_name))  # type: ignore[union-attr]
    return b"".join(parts)


def _enc_unsuccess(items: tuple[UnsuccessSme, ...]) -> bytes:
    parts = [bytes((len(items),))]
    for u in items:
        parts.append(
            bytes((u.dest_addr_ton, u.dest_addr_npi))
            + _cstr(u.destination_addr)
            + _U32.pack(u.error_status_code)
        )
    return b"".join(parts)


def _read_cstr(body: bytes, p: int) -> tuple[str, int]:
    e = body.index(0, p)
    return body[p:e].decode("latin-1"), e + 1


def _dec_dests(body: bytes, p: int) -> tuple[tuple[SmeAddress | DistributionList, ...], int]:
    count = body[p]
    p += 1
    items: list[SmeAddress | DistributionList] = []
    for _ in range(count):
        flag = body[p]
        if flag == 1:
            ton, npi = body[p + 1], body[p + 2]
            addr, p = _read_cstr(body, p + 3)
            items.append(SmeAddress(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr))
        elif flag == 2:
            name, p = _read_cstr(body, p + 1)
            items.append(DistributionList(dl_name=name))
        else:
            raise _Malformed(
                "dest_flag",
                CommandStatus.ESME_RINVDESTFLAG,
                f"dest_flag {flag} is neither 1 (SME address) nor 2 (distribution list)",
            )
    return tuple(items), p


def _dec_unsuccess(body: bytes, p: int) -> tuple[tuple[UnsuccessSme, ...], int]:
    count = body[p]
    p += 1
    items = []
    for _ in range(count):
        ton, npi = body[p], body[p + 1]
        addr, p = _read_cstr(body, p + 2)
        if p + 4 > len(body):
            raise IndexError
        (code,) = _U32.unpack_from(body, p)
        p += 4
        items.append(
            UnsuccessSme(
                dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=addr, error_status_code=code
            )
        )
    return tuple(items), p


# --- the PDUs (SMPP 3.4 chapter 4) ---------------------------------------------------------------


def _fields_without_password(pdu: Any) -> Iterator[tuple[str, Any]]:
    """A PDU's fields as its repr shows them (defaults left out), the password as
    ``<redacted>``: a repr ends up in logs and errors, and a secret must not."""
    for field in msgspec.structs.fields(pdu):
        value = getattr(pdu, field.name)
        if value == field.default:
            continue
        yield field.name, _REDACTED if field.name == "password" else value


class _Redacted:
    def __repr__(self) -> str:
        return "<redacted>"


_REDACTED: Final = _Redacted()


def _repr_without_password(pdu: Any) -> str:
    shown = ", ".join(f"{name}={value!r}" for name, value in _fields_without_password(pdu))
    return f"{type(pdu).__name__}({shown})"


def _rich_repr_without_password(pdu: Any) -> list[tuple[str, Any]]:
    return list(_fields_without_password(pdu))


class _Bind(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    system_id: Str16 = ""
    password: Str9 = ""
    system_type: Str13 = ""
    interface_version: U8 = 0x34
    addr_ton: U8 = 0
    addr_npi: U8 = 0
    address_range: Str41 = ""

    __repr__ = _repr_without_password
    __rich_repr__ = _rich_repr_without_password


class _BindResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    system_id: Str16 = ""


class BindTransmitterResp(_BindResp, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.bind_transmitter_resp


class BindReceiverResp(_BindResp, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.bind_receiver_resp


class BindTransceiverResp(_BindResp, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.bind_transceiver_resp


class BindTransmitter(_Bind, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.bind_transmitter
    response_class = BindTransmitterResp


class BindReceiver(_Bind, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.bind_receiver
    response_class = BindReceiverResp


class BindTransceiver(_Bind, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.bind_transceiver
    response_class = BindTransceiverResp


class Outbind(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    """SMSC asks the ESME to bind_receiver; it has no response PDU."""

    command_id = CommandId.outbind
    system_id: Str16 = ""
    password: Str9 = ""

    __repr__ = _repr_without_password
    __rich_repr__ = _rich_repr_without_password


class UnbindResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.unbind_resp


class Unbind(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.unbind
    response_class = UnbindResp


class GenericNack(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    """The answer to a PDU with an invalid header or an unknown command_id."""

    command_id = CommandId.generic_nack


class EnquireLinkResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.enquire_link_resp


class EnquireLink(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.enquire_link
    response_class = EnquireLinkResp


class _SmBody(Request, _MessageMixin, frozen=True, kw_only=True, repr_omit_defaults=True):
    """The body shared by submit_sm and deliver_sm (SMPP 3.4 4.4.1 and 4.6.1)."""

    service_type: Str6 = ""
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str21 = ""
    dest_addr_ton: U8 = 0
    dest_addr_npi: U8 = 0
    destination_addr: Str21 = ""
    esm_class: U8 = 0
    protocol_id: U8 = 0
    priority_flag: U8 = 0
    schedule_delivery_time: Time = ""
    validity_period: Time = ""
    registered_delivery: U8 = 0
    replace_if_present_flag: U8 = 0
    data_coding: U8 = 0
    sm_default_msg_id: U8 = 0
    short_message: ShortMessage = b""


class _MessageIdResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    message_id: Str65 = ""


class SubmitSmResp(_MessageIdResp, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.submit_sm_resp


class SubmitSm(_SmBody, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.submit_sm
    response_class = SubmitSmResp


class DeliverSmResp(_MessageIdResp, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.deliver_sm_resp


class DeliverSm(_SmBody, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.deliver_sm
    response_class = DeliverSmResp

    @property
    def is_receipt(self) -> bool:
        """An SMSC delivery receipt or intermediate notification (esm_class bits 5-2)."""
        return (self.esm_class & 0x3C) in (0x04, 0x20)


class SubmitMultiResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.submit_multi_resp
    message_id: Str65 = ""
    unsuccess_sme: Annotated[tuple[UnsuccessSme, ...], _UnsuccessList()] = ()


class SubmitMulti(Request, _MessageMixin, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.submit_multi
    response_class = SubmitMultiResp
    service_type: Str6 = ""
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str21 = ""
    dest_address: Annotated[tuple[SmeAddress | DistributionList, ...], _DestList()]
    esm_class: U8 = 0
    protocol_id: U8 = 0
    priority_flag: U8 = 0
    schedule_delivery_time: Time = ""
    validity_period: Time = ""
    registered_delivery: U8 = 0
    replace_if_present_flag: U8 = 0
    data_coding: U8 = 0
    sm_default_msg_id: U8 = 0
    short_message: ShortMessage = b""


class DataSmResp(_MessageIdResp, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.data_sm_resp


class DataSm(Request, _MessageMixin, frozen=True, kw_only=True, repr_omit_defaults=True):
    """data_sm (SMPP 3.4 4.7.1): the user data travels in the message_payload TLV."""

    command_id = CommandId.data_sm
    response_class = DataSmResp
    service_type: Str6 = ""
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str65 = ""
    dest_addr_ton: U8 = 0
    dest_addr_npi: U8 = 0
    destination_addr: Str65 = ""
    esm_class: U8 = 0
    registered_delivery: U8 = 0
    data_coding: U8 = 0

    @property
    def is_receipt(self) -> bool:
        return (self.esm_class & 0x3C) in (0x04, 0x20)


class QuerySmResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.query_sm_resp
    message_id: Str65 = ""
    final_date: Time = ""
    message_state: U8 = 0
    error_code: U8 = 0


class QuerySm(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.query_sm
    response_class = QuerySmResp
    message_id: Str65 = ""
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str21 = ""


class CancelSmResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.cancel_sm_resp


class CancelSm(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.cancel_sm
    response_class = CancelSmResp
    service_type: Str6 = ""
    message_id: Str65 = ""
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str21 = ""
    dest_addr_ton: U8 = 0
    dest_addr_npi: U8 = 0
    destination_addr: Str21 = ""


class ReplaceSmResp(Response, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.replace_sm_resp


class ReplaceSm(Request, _MessageMixin, frozen=True, kw_only=True, repr_omit_defaults=True):
    command_id = CommandId.replace_sm
    response_class = ReplaceSmResp
    message_id: Str65 = ""
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str21 = ""
    schedule_delivery_time: Time = ""
    validity_period: Time = ""
    registered_delivery: U8 = 0
    sm_default_msg_id: U8 = 0
    short_message: ShortMessage = b""


class AlertNotification(Request, frozen=True, kw_only=True, repr_omit_defaults=True):
    """The SMSC tells an ESME that a mobile became available; it has no response PDU."""

    command_id = CommandId.alert_notification
    source_addr_ton: U8 = 0
    source_addr_npi: U8 = 0
    source_addr: Str65 = ""
    esme_addr_ton: U8 = 0
    esme_addr_npi: U8 = 0
    esme_addr: Str65 = ""


#: Every concrete PDU class by command_id.
PDU_CLASSES: Final[dict[int, type[Pdu]]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        Unbind,
        UnbindResp,
        GenericNack,
        SubmitSm,
        SubmitSmResp,
        SubmitMulti,
        SubmitMultiResp,
        DeliverSm,
        DeliverSmResp,
        DataSm,
        DataSmResp,
        QuerySm,
        QuerySmResp,
        CancelSm,
        CancelSmResp,
        ReplaceSm,
        ReplaceSmResp,
        EnquireLink,
        EnquireLinkResp,
        AlertNotification,
    )
}


def _install() -> None:
    entries: tuple[type[_Value], ...] = (SmeAddress, DistributionList, UnsuccessSme)
    for entry in entries:
        entry._validate = _gen_validator(entry, _layout(entry), is_pdu=False)
    for cls in PDU_CLASSES.values():
        layout = _layout(cls)
        cls._validate = _gen_validator(cls, layout, is_pdu=True)
        cls.encode = _gen_encoder(cls, layout)
        slow = _reporting(_gen_decoder(cls, layout), cls.command_id)
        _SLOW_DECODERS[cls.command_id] = slow
        cls._decode = staticmethod(_gen_checked_decoder(cls, layout, slow))


def _reporting(slow: Callable[..., Pdu], command_id: int) -> Callable[[bytes, int, int], Pdu]:
    """``slow`` raising PduDecodeError (with the response to send) and nothing else."""

    def decode(body: bytes, seq: int, status: int) -> Pdu:
        try:
            return slow(body, seq, _STATUS_ENUM.get(status, status))
        except (_Malformed, TlvDecodeError, InvalidPduError) as exc:
            raise _decode_error(command_id, seq, exc.status, str(exc), exc.field) from None

    return decode


#: Decoders by command_id: ``decode(body, sequence_number, command_status)`` for a bytes body
#: and 32-bit header values, as the framer has them; they raise PduDecodeError only.
_SLOW_DECODERS: Final[dict[int, Callable[[bytes, int, int], Pdu]]] = {}
_install()
_DECODERS: Final[dict[int, Callable[[bytes, int, int], Pdu]]] = {
    cid: cls._decode for cid, cls in PDU_CLASSES.items()
}


# --- delivery receipts, read short ----------------------------------------------------------------


class ReceiptTlvs(msgspec.Struct, frozen=True, gc=False):
    """A deliver_sm that is a plain delivery receipt, read only as far as correlating it needs.

    :func:`decode_receipt_tlvs` gives one for a well-formed deliver_sm whose esm_class marks a
    receipt and whose TLVs are exactly ``receipted_message_id`` then ``message_state``: the
    usual receipt of SMPP 3.4 5.2.12. Every field was checked as the full decoder checks it,
    so :meth:`pdu` always succeeds; the other fields are simply not read. ``gc=False``: it holds
    an int, a str and bytes.
    """

    command_id: ClassVar[CommandId] = CommandId.deliver_sm
    sequence_number: int
    message_id: str  # receipted_message_id, as DeliverSm.tlv() would give it
    message_state: int
    body: bytes  # everything after the header

    def pdu(self) -> DeliverSm:
        """The whole deliver_sm, decoded."""
        pdu = DeliverSm._decode(self.body, self.sequence_number, 0)
        assert type(pdu) is DeliverSm  # (what decode_receipt_tlvs matched always decodes)
        return pdu


def _receipt_pattern() -> re.Pattern[bytes]:
    """The mandatory fields of a deliver_sm with a receipt's esm_class and no times (a deliver_sm
    never has them), sized as the decoders size them; its one group is sm_length."""
    receipt_esm = b"".join(b"\\x%02x" % b for b in range(256) if (b & 0x3C) in (0x04, 0x20))
    pattern = b""
    for name, marker in _layout(DeliverSm):
        if isinstance(marker, _CString):
            pattern += b"[^\0]{0,%d}\0" % (marker.max_len - 1)
        elif isinstance(marker, _Time):
            pattern += b"\0"
        elif isinstance(marker, _ShortMessage):
            pattern += b"(.)"
        elif name == "esm_class":
            pattern += b"[" + receipt_esm + b"]"
        elif isinstance(marker, _Octet):
            pattern += b"."
        else:  # pragma: no cover - a deliver_sm has no other kind of field
            raise TypeError(f"DeliverSm.{name}: unexpected wire marker {marker!r}")
    return re.compile(pattern, re.DOTALL)


_RECEIPT_FIELDS: Final = _receipt_pattern().match
_DECODE_DELIVER_SM: Final = DeliverSm._decode


def decode_receipt_tlvs(body: bytes, seq: int, status: int) -> ReceiptTlvs | Pdu:
    """A deliver_sm body as the framer has it: a :class:`ReceiptTlvs` when it is a plain
    delivery receipt (see there), else the :class:`DeliverSm` its decoder gives; like the
    decoders it raises only PduDecodeError."""
    m = _RECEIPT_FIELDS(body)
    if m is not None:
        end = m.end()
        k = body[end - 1]  # sm_length
        if k < 255:
            ids = _RECEIPT_TLVS(body, end + k)
            if ids is not None:
                size, message_id, state = ids.groups()
                if size[0] == len(message_id) + 1:
                    return ReceiptTlvs(seq, message_id.decode("latin-1"), state[0], body)
    return _DECODE_DELIVER_SM(body, seq, status)


# --- decoding entry points ------------------------------------------------------------------------


def _response_for(command_id: int, sequence_number: int, status: int) -> Response | None:
    """What to send back for a bad request: its own *_resp, else generic_nack; None for a
    response (answering a response would risk a nack loop)."""
    if command_id & RESPONSE_BIT:
        return None
    cls = PDU_CLASSES.get(command_id)
    if cls is not None and issubclass(cls, Request) and cls.response_class is not None:
        return cls.response_class(sequence_number=sequence_number, command_status=status)
    return GenericNack(sequence_number=sequence_number, command_status=status)


def _decode_error(
    command_id: int, seq: int, status: int, message: str, field: str | None
) -> PduDecodeError:
    try:
        name = CommandId(command_id).name
    except ValueError:
        name = f"command_id 0x{command_id:08X}"
    err = PduDecodeError(
        f"{name} (sequence {seq}): {message}",
        status=status,
        command_id=command_id,
        sequence_number=seq,
        field=field,
    )
    err.response = _response_for(command_id, seq, status)
    return err


def decode_body(command_id: int, command_status: int, sequence_number: int, body: bytes) -> Pdu:
    """Decode one PDU body (the octets after the 16-octet header).

    Raises :class:`PduDecodeError` — and nothing else — for an unknown command_id or a
    malformed body; its ``response`` is what the receiver should send back (or None).
    """
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        err = _decode_error(
            command_id,
            sequence_number,
            CommandStatus.ESME_RINVCMDID,
            "unknown command_id",
            "command_id",
        )
        err.response = GenericNack(
            sequence_number=sequence_number, command_status=CommandStatus.ESME_RINVCMDID
        )
        raise err
    try:
        framed = type(body) is bytes and not (sequence_number | command_status) >> 32
    except TypeError:
        framed = False
    if not framed:
        # Not what a framer produces: the validating decoder reports what is wrong.
        decoder = _SLOW_DECODERS[command_id]
    return decoder(body, sequence_number, command_status)


def decode_pdu(data: bytes) -> Pdu:
    """Decode exactly one whole PDU, header included."""
    data = bytes(data)
    if len(data) < 16:
        raise PduDecodeError(
            f"a PDU is at least 16 octets, got {len(data)}",
            status=CommandStatus.ESME_RINVCMDLEN,
            command_id=0,
            sequence_number=0,
            field="command_length",
        )
    length, command_id, status, seq = HEADER.unpack_from(data)
    if length != len(data):
        raise _decode_error(
            command_id,
            seq,
            CommandStatus.ESME_RINVCMDLEN,
            f"command_length {length} but {len(data)} octets given",
            "command_length",
        )
    return decode_body(command_id, status, seq, data[16:])


# --- pre-encoded requests -------------------------------------------------------------------------

_pack_header: Final = HEADER.pack
_EMPTY: Final = ""  # CPython's one empty str: the default of the time arguments below
_SUBMIT_SM: Final = CommandId.submit_sm
_MESSAGE_PAYLOAD: Final = int(Tag.message_payload)


class EncodedRequest(msgspec.Struct, frozen=True, gc=False):
    """A request whose body is already encoded, by something that validated every field (a
    :class:`SubmitSmTemplate`); sending it only prepends the 16-octet header.

    ``sequence_number`` is always 0 here, as for a :class:`Request` not yet sent; it exists so
    code that reads ``request.sequence_number`` works for both. ``gc=False``: it holds an int
    and bytes, so it cannot be part of a reference cycle.
    """

    command_id: CommandId
    body: bytes  # everything after the header
    sequence_number: int = 0

    def encode(self, sequence_number: int = 0) -> bytes:
        """The PDU: header (command_status 0, ``sequence_number``) and body."""
        try:
            header = _pack_header(16 + len(self.body), self.command_id, 0, sequence_number)
        except struct.error:
            raise _invalid(
                "sequence_number", f"{sequence_number!r} is not a 32-bit unsigned int"
            ) from None
        return header + self.body

    @property
    def command_name(self) -> str:
        return CommandId(self.command_id).name

    def decode(self, sequence_number: int = 0) -> Request:
        """The request as a PDU value (for inspection and logging; not on the hot path)."""
        pdu = decode_body(self.command_id, 0, sequence_number, self.body)
        if not isinstance(pdu, Request):
            raise TypeError(f"{self.command_name} is not a request")
        return pdu


def _times_ok(schedule_delivery_time: object, validity_period: object) -> bool:
    """What SubmitSm accepts for the two SMPP times (see ``_check_time``)."""
    return (
        type(schedule_delivery_time) is str
        and type(validity_period) is str
        and (not schedule_delivery_time or _time_ok(schedule_delivery_time))
        and (not validity_period or _time_ok(validity_period))
    )


def _tlvs_ok(tlvs: tuple[Any, ...], short_message: bytes) -> bool:
    """What ``_check_tlvs`` accepts of a tuple: Tlv values, and no message_payload beside a
    short_message."""
    return all(type(t) is Tlv for t in tlvs) and not (
        short_message and any(t.tag == _MESSAGE_PAYLOAD for t in tlvs)
    )


class SubmitSmTemplate:
    """Builds submit_sm :class:`EncodedRequest` values for one sender.

    The fields that stay the same from message to message are validated once, here (by building
    a :class:`SubmitSm` with them: a bad one raises its :class:`InvalidPduError`), and encoded
    once into the constant runs of the body. :meth:`request` then checks only the per-message
    fields and formats the body in one operation.

    The result is byte for byte what ``SubmitSm(<these fields>, <request's fields>).encode()``
    gives, and a value SubmitSm refuses raises the same error: whenever the fast check is not
    sure (non-ASCII destination_addr, odd types, a bad value), :meth:`request` builds the
    SubmitSm itself and takes its body.
    """

    __slots__ = ("_fields", "_fmt", "_fmt_timed")

    def __init__(
        self,
        *,
        service_type: str = "",
        source_addr_ton: int = 0,
        source_addr_npi: int = 0,
        source_addr: str = "",
        dest_addr_ton: int = 0,
        dest_addr_npi: int = 0,
        protocol_id: int = 0,
        priority_flag: int = 0,
        replace_if_present_flag: int = 0,
        sm_default_msg_id: int = 0,
    ) -> None:
        fields: dict[str, Any] = {
            "service_type": service_type,
            "source_addr_ton": source_addr_ton,
            "source_addr_npi": source_addr_npi,
            "source_addr": source_addr,
            "dest_addr_ton": dest_addr_ton,
            "dest_addr_npi": dest_addr_npi,
            "protocol_id": protocol_id,
            "priority_flag": priority_flag,
            "replace_if_present_flag": replace_if_present_flag,
            "sm_default_msg_id": sm_default_msg_id,
        }
        # The constant runs are cut out of what SubmitSm's own encoder writes for these fields
        # (building it also validates them), so they cannot drift from it. The body ends with
        # destination_addr NUL, esm_class, protocol_id, priority_flag, two empty times,
        # registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id and
        # sm_length: 11 octets after the head when the per-message fields are empty.
        body = SubmitSm(**fields).encode(0)[HEADER_LENGTH:]
        head, flags, replace, default_id = body[:-11], body[-9:-7], body[-4:-3], body[-2:-1]

        def lit(run: bytes) -> bytes:  # a constant run inside a %-format
            return run.replace(b"%", b"%%")

        # destination_addr, esm_class, registered_delivery, data_coding, sm_length, short_message
        self._fmt = lit(head) + b"%b\0%c" + lit(flags) + b"\0\0%c" + lit(replace) + (
            b"%c" + lit(default_id) + b"%c%b"
        )
        # The same with schedule_delivery_time and validity_period after esm_class's run.
        self._fmt_timed = lit(head) + b"%b\0%c" + lit(flags) + b"%b\0%b\0%c" + lit(replace) + (
            b"%c" + lit(default_id) + b"%c%b"
        )
        self._fields = fields

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._fields.items() if v)
        return f"SubmitSmTemplate({fields})"

    def request(
        self,
        destination_addr: str,
        short_message: bytes,
        *,
        esm_class: int = 0,
        registered_delivery: int = 0,
        data_coding: int = 0,
        schedule_delivery_time: str = "",
        validity_period: str = "",
        tlvs: tuple[Tlv, ...] = (),
    ) -> EncodedRequest:
        """One submit_sm to ``destination_addr``; raises :class:`InvalidPduError` for a value
        SubmitSm refuses."""
        # The generated SubmitSm validator's checks for these fields, or stricter ones: what
        # fails here goes to _slow, which decides (and, for a bad value, raises).
        try:
            ok = (
                type(destination_addr) is str
                and len(destination_addr) < 21
                and destination_addr.isascii()
                and "\0" not in destination_addr
                and type(short_message) is bytes
                and len(short_message) <= 254
                and (esm_class | registered_delivery | data_coding) >> 8 == 0
                # Not merely falsy: SubmitSm's fast check lets an empty list or None pass and
                # its explaining slow path refuses them, so which one wins depends on the other
                # fields. Leave that to SubmitSm.
                and type(tlvs) is tuple
            )
        except TypeError:  # an octet that is not an int
            ok = False
        if ok:
            if schedule_delivery_time is _EMPTY and validity_period is _EMPTY:
                body = self._fmt % (
                    destination_addr.encode(),  # ASCII: UTF-8 is Latin-1, and str's fast path
                    esm_class,
                    registered_delivery,
                    data_coding,
                    len(short_message),
                    short_message,
                )
            elif _times_ok(schedule_delivery_time, validity_period):
                body = self._fmt_timed % (
                    destination_addr.encode("latin-1"),
                    esm_class,
                    schedule_delivery_time.encode("latin-1"),
                    validity_period.encode("latin-1"),
                    registered_delivery,
                    data_coding,
                    len(short_message),
                    short_message,
                )
            else:
                ok = False
        if ok and tlvs:
            if _tlvs_ok(tlvs, short_message):
                body += encode_tlvs(tlvs)
            else:
                ok = False
        if ok:
            return EncodedRequest(_SUBMIT_SM, body)
        return self._slow(destination_addr, short_message, esm_class, registered_delivery,
                          data_coding, schedule_delivery_time, validity_period, tlvs)

    def simple(self, destination_addr: str, short_message: bytes, registered_delivery: int,
               data_coding: int) -> EncodedRequest:
        """:meth:`request` for the usual message (esm_class 0, no times, no TLVs), with
        fewer checks to make: the same result, the same errors."""
        if (
            type(destination_addr) is str
            and len(destination_addr) < 21
            and destination_addr.isascii()
            and "\0" not in destination_addr
            and type(short_message) is bytes
            and len(short_message) <= 254
            and type(registered_delivery) is int
            and type(data_coding) is int
            and (registered_delivery | data_coding) >> 8 == 0
        ):
            return EncodedRequest(_SUBMIT_SM, self._fmt % (
                destination_addr.encode(), 0, registered_delivery, data_coding,
                len(short_message), short_message,
            ))
        return self._slow(destination_addr, short_message, 0, registered_delivery, data_coding,
                          "", "", ())

    def _slow(self, destination_addr: Any, short_message: Any, esm_class: Any,
              registered_delivery: Any, data_coding: Any, schedule_delivery_time: Any,
              validity_period: Any, tlvs: Any) -> EncodedRequest:
        """Through SubmitSm itself: it validates (and raises its error) and encodes."""
        pdu = SubmitSm(
            **self._fields,
            destination_addr=destination_addr,
            short_message=short_message,
            esm_class=esm_class,
            registered_delivery=registered_delivery,
            data_coding=data_coding,
            schedule_delivery_time=schedule_delivery_time,
            validity_period=validity_period,
            tlvs=tlvs,
        )
        return EncodedRequest(_SUBMIT_SM, pdu.encode(0)[HEADER_LENGTH:])
