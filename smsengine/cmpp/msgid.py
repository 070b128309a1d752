"""CMPP Msg_Id: the 64-bit ISMG-generated id, its bit layout and its text forms (section 6).

Bit layout (MSB first): month 4 bits, day 5, hour 5, minute 6, second 6, ISMG gateway code
22, sequence 16. The id is an opaque key for correlation (SUBMIT_RESP → status report); the
canonical text form here is the unsigned decimal of the big-endian uint64, and all four forms
seen in the wild are accepted on input:

1. decimal uint64, ``13513838482661900289`` (gocmpp, pycmpp; canonical);
2. the 22-digit field form ``MMDDHHMMSS`` + 7-digit gateway + 5-digit sequence,
   ``1123024450001000100001`` (SMSGate);
3. signed Java long, ``-4932905591047651327``;
4. 16 hex digits, ``bb8acc8027110001``.

Ambiguity rules of :func:`normalise_msg_id` (:func:`msg_id_candidates` lists every reading):

- 22 digits can only be the field form (a uint64 has at most 20 digits); they must fit the
  layout (month 1-12, day 1-31, hour < 24, minute and second < 60, gateway < 2**22,
  sequence < 2**16) or the text is rejected.
- A leading ``-`` means the signed form. Non-negative signed longs equal their uint64.
- 16 characters with a letter a-f (or a ``0x`` prefix) are hex.
- Any other run of digits is decimal — including 16 digits that would also read as hex; that
  case is the ambiguous one, and :func:`msg_id_candidates` gives both readings (decimal first).
"""

from __future__ import annotations

from typing import NamedTuple

from .auth import LocalTime

__all__ = [
    "MsgIdParts",
    "make_msg_id",
    "msg_id_candidates",
    "msg_id_fields",
    "msg_id_hex",
    "msg_id_signed",
    "normalise_msg_id",
    "pack_msg_id",
    "parse_msg_id",
    "unpack_msg_id",
]

_U64_MAX = (1 << 64) - 1
_HEX_LETTERS = frozenset("abcdefABCDEF")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

# (name, shift, width, smallest, largest) in layout order.
_PARTS = (
    ("month", 60, 4, 1, 12),
    ("day", 55, 5, 1, 31),
    ("hour", 50, 5, 0, 23),
    ("minute", 44, 6, 0, 59),
    ("second", 38, 6, 0, 59),
    ("gateway", 16, 22, 0, (1 << 22) - 1),
    ("sequence", 0, 16, 0, 0xFFFF),
)


class MsgIdParts(NamedTuple):
    """The fields packed into a Msg_Id."""

    month: int
    day: int
    hour: int
    minute: int
    second: int
    gateway: int
    sequence: int

    def pack(self) -> int:
        return pack_msg_id(*self)


def pack_msg_id(
    month: int, day: int, hour: int, minute: int, second: int, gateway: int, sequence: int
) -> int:
    """The uint64 for these parts; ValueError naming the part when one is out of range."""
    value = 0
    for (name, shift, _, lo, hi), part in zip(
        _PARTS, (month, day, hour, minute, second, gateway, sequence), strict=True
    ):
        if not lo <= part <= hi:
            raise ValueError(f"Msg_Id {name} {part} is outside {lo}..{hi}")
        value |= part << shift
    return value


def unpack_msg_id(value: int) -> MsgIdParts:
    """The parts of a uint64 Msg_Id, as stored (no range check: gateways may send anything)."""
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"Msg_Id {value} is not a uint64")
    return MsgIdParts(*((value >> shift) & ((1 << width) - 1) for _, shift, width, _, _ in _PARTS))


def make_msg_id(local: LocalTime, gateway: int, sequence: int) -> int:
    """A Msg_Id as an ISMG makes one: the passed-in local time, the gateway code, and the
    sequence taken modulo 2**16 so a plain counter can be passed."""
    return pack_msg_id(
        local.tm_mon, local.tm_mday, local.tm_hour, local.tm_min, min(local.tm_sec, 59),
        gateway, sequence & 0xFFFF,
    )  # fmt: skip


# --- text forms ---------------------------------------------------------------------------------


def msg_id_fields(value: int) -> str:
    """The 22-digit field form: MMDDHHMMSS, 7-digit gateway, 5-digit sequence (SMSGate)."""
    p = unpack_msg_id(value)
    return (
        f"{p.month:02d}{p.day:02d}{p.hour:02d}{p.minute:02d}{p.second:02d}"
        f"{p.gateway:07d}{p.sequence:05d}"
    )


def msg_id_signed(value: int) -> str:
    """The signed 64-bit (Java long) decimal form."""
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"Msg_Id {value} is not a uint64")
    return str(value - (1 << 64) if value >> 63 else value)


def msg_id_hex(value: int) -> str:
    """16 lower-case hex digits."""
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"Msg_Id {value} is not a uint64")
    return f"{value:016x}"


def _from_fields(text: str) -> int | None:
    nums = (
        int(text[0:2]), int(text[2:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
        int(text[10:17]), int(text[17:22]),
    )  # fmt: skip
    try:
        return pack_msg_id(*nums)
    except ValueError:
        return None


def _readings(text: str) -> list[int]:
    """Every uint64 ``text`` can stand for, most likely first."""
    t = text.strip()
    if not t or not t.isascii():
        return []
    if t[0] == "-":
        digits = t[1:]
        if digits.isdigit() and int(digits) <= 1 << 63:
            return [(-int(digits)) & _U64_MAX]
        return []
    if t[:2] in ("0x", "0X"):
        h = t[2:]
        if 0 < len(h) <= 16 and set(h) <= _HEX_DIGITS:
            return [int(h, 16)]
        return []
    if t.isdigit():
        if len(t) == 22:
            value = _from_fields(t)
            return [] if value is None else [value]
        out = []
        if int(t) <= _U64_MAX:
            out.append(int(t))
        if len(t) == 16:
            out.append(int(t, 16))
        return out
    if len(t) == 16 and set(t) <= _HEX_DIGITS and not set(t).isdisjoint(_HEX_LETTERS):
        return [int(t, 16)]
    return []


def parse_msg_id(text: str) -> int:
    """The uint64 a Msg_Id text stands for (see the module docstring for the rules)."""
    readings = _readings(text)
    if not readings:
        raise ValueError(f"{text!r} is not a Msg_Id in any known text form")
    return readings[0]


def normalise_msg_id(text: str) -> str:
    """Any of the four text forms → the canonical unsigned decimal; ValueError otherwise."""
    return str(parse_msg_id(text))


def msg_id_candidates(text: str) -> tuple[str, ...]:
    """Every canonical decimal ``text`` may stand for, most likely first; () for junk.

    Only 16-digit all-decimal text has two readings (decimal, then hex)."""
    return tuple(dict.fromkeys(str(v) for v in _readings(text)))
