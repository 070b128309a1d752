"""SMGP MsgID: the 10-octet id an SMGW gives a message (section 7 of the SMGP reference).

Layout, all BCD: octets 0-2 the SMGW code (3-digit area code, 2-digit device type — "06" is
an SMGW — and a 1-digit index), 3-6 the time ``MMDDHHMM``, 7-9 a 6-digit sequence that
wraps at 999999. The spec's example, SMGW 010061 on 16 January 17:00 with sequence 012345,
is ``01006101161700012345``.

Gateways do not all keep to the layout (a real report carries ``6495c36ac4ea6b00000b``), so
the id is an opaque 10-octet key for correlation (Submit_Resp → the report's ``id:``); its
canonical text is the 20 lower-case hex digits of the octets, which for a BCD id are its 20
decimal digits. :meth:`MsgId.parts` reads the fields when the id is BCD.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import msgspec

from .auth import LocalTime

__all__ = ["MSG_ID_LENGTH", "MsgId", "MsgIdParts", "msg_id_text", "normalise_msg_id"]

MSG_ID_LENGTH: Final = 10
_SEQUENCE_MOD: Final = 1_000_000
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class MsgIdParts(NamedTuple):
    """The fields of a BCD MsgID."""

    smgw_code: str  # 6 digits: area code (3), device type (2), index (1)
    month: int
    day: int
    hour: int
    minute: int
    sequence: int

    @property
    def area_code(self) -> str:
        return self.smgw_code[:3]

    @property
    def device_type(self) -> str:
        return self.smgw_code[3:5]


def msg_id_text(raw: bytes) -> str:
    """The canonical text of a MsgID's 10 octets: 20 lower-case hex digits."""
    return raw.hex()


def normalise_msg_id(text: str) -> str:
    """A MsgID text in the canonical form: 20 hex digits (either case, surrounding spaces
    ignored) — which covers the 20-decimal-digit form of a BCD id — lower-cased; ValueError
    for anything else."""
    t = text.strip()
    if len(t) != 2 * MSG_ID_LENGTH or not set(t) <= _HEX:
        raise ValueError(f"{text!r} is not a MsgID (20 hex digits)")
    return t.lower()


def _digits(name: str, value: int, width: int, lo: int, hi: int) -> str:
    if type(value) is not int or not lo <= value <= hi:
        raise ValueError(f"MsgID {name} {value!r} is outside {lo}..{hi}")
    return f"{value:0{width}d}"


class MsgId(msgspec.Struct, frozen=True, gc=False):
    """A MsgID as an immutable value; ``raw`` is its 10 octets as on the wire.

    >>> m = MsgId.from_parts("010061", 1, 16, 17, 0, 12345)
    >>> m.text
    '01006101161700012345'
    >>> m.parts().sequence, m.next(2).text
    (12345, '01006101161700012347')
    """

    raw: bytes

    def __post_init__(self) -> None:
        if type(self.raw) is not bytes or len(self.raw) != MSG_ID_LENGTH:
            size = len(self.raw) if isinstance(self.raw, bytes | bytearray) else None
            raise ValueError(f"a MsgID is exactly 10 octets of bytes, got {size!r}")

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> MsgId:
        """The MsgID in the first 10 octets of ``data``."""
        return cls(bytes(data[:MSG_ID_LENGTH]))

    @classmethod
    def from_text(cls, text: str) -> MsgId:
        """The MsgID of its canonical text (or the same in upper case)."""
        return cls(bytes.fromhex(normalise_msg_id(text)))

    @classmethod
    def from_parts(
        cls, smgw_code: str, month: int, day: int, hour: int, minute: int, sequence: int
    ) -> MsgId:
        """A BCD MsgID; ValueError naming the part that is out of range."""
        if type(smgw_code) is not str or len(smgw_code) != 6 or not smgw_code.isdigit():
            raise ValueError(f"MsgID smgw_code {smgw_code!r} is not 6 decimal digits")
        if not smgw_code.isascii():
            raise ValueError(f"MsgID smgw_code {smgw_code!r} is not 6 decimal digits")
        text = (
            smgw_code
            + _digits("month", month, 2, 1, 12)
            + _digits("day", day, 2, 1, 31)
            + _digits("hour", hour, 2, 0, 23)
            + _digits("minute", minute, 2, 0, 59)
            + _digits("sequence", sequence, 6, 0, _SEQUENCE_MOD - 1)
        )
        return cls(bytes.fromhex(text))

    @classmethod
    def make(cls, local: LocalTime, smgw_code: str, sequence: int) -> MsgId:
        """A MsgID as an SMGW makes one: the passed-in local time, the SMGW code, and the
        sequence taken modulo 1 000 000 so a plain counter can be passed."""
        return cls.from_parts(
            smgw_code, local.tm_mon, local.tm_mday, local.tm_hour, local.tm_min,
            sequence % _SEQUENCE_MOD,
        )  # fmt: skip

    def __bytes__(self) -> bytes:
        return self.raw

    def __str__(self) -> str:
        return self.raw.hex()

    @property
    def text(self) -> str:
        """The canonical text: 20 lower-case hex digits."""
        return self.raw.hex()

    @property
    def is_bcd(self) -> bool:
        """Whether every nibble is a decimal digit (the spec's layout can be read)."""
        return self.raw.hex().isdigit()

    def parts(self) -> MsgIdParts:
        """The fields; ValueError when the id is not BCD. Values are as received (a gateway
        may send month 00): no range check."""
        t = self.raw.hex()
        if not t.isdigit():
            raise ValueError(f"MsgID {t} is not BCD; it has no parts to read")
        return MsgIdParts(t[0:6], int(t[6:8]), int(t[8:10]), int(t[10:12]), int(t[12:14]),
                          int(t[14:20]))  # fmt: skip

    def next(self, count: int = 1) -> MsgId:
        """The id ``count`` places on in the sequence, wrapping at 999999 (a Submit to N
        numbers stands for MsgID … MsgID + N - 1, section 4.4); ValueError when not BCD."""
        t = self.raw.hex()
        if not t.isdigit():
            raise ValueError(f"MsgID {t} is not BCD; it has no sequence to count on")
        seq = (int(t[14:20]) + count) % _SEQUENCE_MOD
        return MsgId(bytes.fromhex(f"{t[:14]}{seq:06d}"))
