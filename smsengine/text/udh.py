"""The user data header: concatenation information elements (3GPP TS 23.040 9.2.3.24).

A UDH is UDHL (its length, one octet) followed by information elements, each IEI, IEDL and
IEDL octets of data. Concatenation is IE 0x00 (8-bit reference, 9.2.3.24.1) or IE 0x08 (16-bit
reference, 9.2.3.24.8): reference, maximum number of parts, this part's sequence number.
:func:`parse_udh` keeps every other IE (application ports 0x04/0x05, national language shifts,
…) byte-exact in :attr:`UserDataHeader.elements`.

Parsing is for octets from peers: a header whose lengths run past the data is a
:class:`~smsengine.text.errors.UdhError` naming the offset, never an IndexError. A
concatenation IE with impossible values (sequence 0 or above the maximum, maximum 0) is
ignored, as 9.2.3.24.1 tells a receiving entity to do; the message is then a single part.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from .errors import TextError, UdhError

__all__ = [
    "IEI_CONCAT_8BIT",
    "IEI_CONCAT_16BIT",
    "ConcatInfo",
    "InformationElement",
    "UserDataHeader",
    "concat_udh",
    "parse_udh",
]

IEI_CONCAT_8BIT: Final = 0x00
IEI_CONCAT_16BIT: Final = 0x08

_UDH16: Final = struct.Struct(">3BHBB")


class InformationElement(msgspec.Struct, frozen=True):
    """One IE of a UDH: its identifier (IEI) and data (without IEI and IEDL)."""

    iei: int
    data: bytes


class ConcatInfo(msgspec.Struct, frozen=True):
    """Where a part belongs: reference, total parts, this part's 1-based sequence number."""

    ref: int
    total: int
    seqnum: int
    ref_bits: int = 8


class UserDataHeader(msgspec.Struct, frozen=True):
    """A parsed UDH: all its IEs in order, the concatenation IE picked out, its octet length."""

    elements: tuple[InformationElement, ...]
    concat: ConcatInfo | None
    length: int


def concat_udh(ref: int, total: int, seqnum: int, *, ref_bits: int = 8) -> bytes:
    """The UDH of one part: ``05 00 03 ref total seq`` or ``06 08 04 ref(2) total seq``."""
    if not 1 <= seqnum <= total <= 255:
        raise TextError(f"part {seqnum} of {total}: need 1 <= seqnum <= total <= 255")
    if ref_bits == 8:
        if not 0 <= ref <= 0xFF:
            raise TextError(f"8-bit reference {ref} is out of range 0-255")
        return b"\x05\x00\x03" + bytes((ref, total, seqnum))
    if ref_bits == 16:
        if not 0 <= ref <= 0xFFFF:
            raise TextError(f"16-bit reference {ref} is out of range 0-65535")
        return _UDH16.pack(6, IEI_CONCAT_16BIT, 4, ref, total, seqnum)
    raise TextError(f"ref_bits must be 8 or 16, not {ref_bits}")


def parse_udh(user_data: bytes) -> tuple[UserDataHeader, bytes]:
    """Split user data that starts with a UDH (esm_class UDHI set) into header and the rest.

    The rest is the text's octets; for packed GSM 7-bit, skip the fill bits first
    (:func:`smsengine.text.gsm.unpack_user_data`). If the concatenation IE appears more than
    once, the last one counts (23.040 9.2.3.24: a repeated non-repeatable IE overrides).
    """
    if not user_data:
        raise UdhError("UDHI is set but the user data is empty", offset=0)
    end = 1 + user_data[0]
    if end > len(user_data):
        raise UdhError(
            f"UDHL {user_data[0]} runs past the {len(user_data) - 1} octets after it", offset=0
        )
    elements: list[InformationElement] = []
    concat: ConcatInfo | None = None
    i = 1
    while i < end:
        if i + 2 > end:
            raise UdhError(f"IE at offset {i} is cut off by the end of the UDH", offset=i)
        iei, length = user_data[i], user_data[i + 1]
        start = i + 2
        if start + length > end:
            raise UdhError(
                f"IE 0x{iei:02X} at offset {i} declares {length} octets; "
                f"the UDH has {end - start} left",
                offset=i,
            )
        data = user_data[start : start + length]
        elements.append(InformationElement(iei, data))
        if iei in (IEI_CONCAT_8BIT, IEI_CONCAT_16BIT):
            concat = _concat(iei, data, i)
        i = start + length
    return UserDataHeader(tuple(elements), concat, end), user_data[end:]


def _concat(iei: int, data: bytes, offset: int) -> ConcatInfo | None:
    want = 3 if iei == IEI_CONCAT_8BIT else 4
    if len(data) != want:
        raise UdhError(
            f"concatenation IE 0x{iei:02X} at offset {offset} has {len(data)} octets, not {want}",
            offset=offset,
        )
    if iei == IEI_CONCAT_8BIT:
        ref, bits = data[0], 8
    else:
        ref, bits = (data[0] << 8) | data[1], 16
    total, seqnum = data[-2], data[-1]
    if not 1 <= seqnum <= total:
        return None  # 23.040 9.2.3.24.1: ignore the IE
    return ConcatInfo(ref, total, seqnum, bits)
