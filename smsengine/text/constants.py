"""Numbers of the text layer: encodings with their data_coding / Msg_Fmt, split methods, limits.

- data_coding values: SMPP 3.4 section 5.2.19 (0x00-0x0F) and 3GPP TS 23.038 section 4 (the
  coding groups above 0x0F, which SMSCs pass through from the air interface).
- Msg_Fmt values: CMPP 2.0/3.0 (0 ASCII, 3 SIM card write, 4 binary, 8 UCS2, 15 GB).
- The 140-octet user data of one short message: 3GPP TS 23.040 section 9.2.3.24 (TP-UD).
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "MAX_PARTS",
    "USER_DATA_OCTETS",
    "Encoding",
    "SplitMethod",
    "encoding_for_data_coding",
    "encoding_for_msg_fmt",
]

#: TP-UD of one short message on the air interface, header included (TS 23.040 9.2.3.24).
USER_DATA_OCTETS: Final = 140
#: The concatenation IE counts parts in one octet (TS 23.040 9.2.3.24.1 / .8).
MAX_PARTS: Final = 255


class Encoding(enum.Enum):
    """A character encoding of short message text; the value is its name on the CLI and in JSON.

    - ``GSM7``: the GSM 03.38 default alphabet with its extension table (3GPP TS 23.038 6.2.1),
      one septet per octet as SMPP data_coding 0 carries it; 7-bit on air.
    - ``ASCII``: IA5 / US-ASCII (SMPP data_coding 1, or 0 where a carrier says so); the SMSC
      maps it to a 7-bit alphabet on air, so it is budgeted like GSM7 (160 / 153 / 152).
    - ``LATIN1``: ISO-8859-1 (data_coding 3), 8-bit on air (140 / 134 / 133).
    - ``UCS2``: UTF-16BE with surrogate pairs (data_coding 8; CMPP Msg_Fmt 8), counted in
      UTF-16 code units (70 / 67 / 66).
    - ``BINARY``: octets as they are (data_coding 4; CMPP Msg_Fmt 4). As text, each octet is
      the code point of the same value (Latin-1 transparency).
    - ``GB18030``: the Chinese national standard, a superset of GBK (CMPP Msg_Fmt 15); SMPP has
      no data_coding for it. 8-bit on air.
    """

    GSM7 = "gsm7"
    ASCII = "ascii"
    LATIN1 = "latin1"
    UCS2 = "ucs2"
    BINARY = "binary"
    GB18030 = "gb18030"

    # Members are singletons and Enum equality is identity, so the identity hash (in C) is
    # right; Enum's own __hash__ is a Python function that showed up in the segmenter's profile.
    __hash__ = object.__hash__

    @property
    def data_coding(self) -> int | None:
        """The SMPP data_coding for this encoding (ASCII: 1, IA5); None for GB18030."""
        return _DATA_CODING[self]

    @property
    def msg_fmt(self) -> int | None:
        """The CMPP Msg_Fmt for this encoding; None where CMPP has none (GSM7, LATIN1)."""
        return _MSG_FMT[self]

    @property
    def septets(self) -> bool:
        """Whether the encoding is 7-bit on the air interface (units are septets)."""
        return self is Encoding.GSM7 or self is Encoding.ASCII


_DATA_CODING: Final[dict[Encoding, int | None]] = {
    Encoding.GSM7: 0x00,
    Encoding.ASCII: 0x01,
    Encoding.LATIN1: 0x03,
    Encoding.BINARY: 0x04,
    Encoding.UCS2: 0x08,
    Encoding.GB18030: None,
}

_MSG_FMT: Final[dict[Encoding, int | None]] = {
    Encoding.GSM7: None,
    Encoding.ASCII: 0,
    Encoding.LATIN1: None,
    Encoding.BINARY: 4,
    Encoding.UCS2: 8,
    Encoding.GB18030: 15,
}


class SplitMethod(enum.Enum):
    """How a long message travels: the value is the CLI's ``--udh`` word.

    - ``UDH8``: a user data header with IE 0x00 (``05 00 03 ref total seq``, 8-bit reference)
      in front of every part's user data, and the esm_class UDHI bit set (TS 23.040 9.2.3.24.1).
    - ``UDH16``: IE 0x08 (``06 08 04 ref ref total seq``, 16-bit reference; 9.2.3.24.8).
    - ``SAR``: the SMPP 3.4 TLVs sar_msg_ref_num / sar_total_segments / sar_segment_seqnum
      (5.3.2.22-24); the user data carries no header and the SMSC writes one on air. The
      reference is 16 bits, so the SMSC may write IE 0x08: parts are sized for that header.
    - ``PAYLOAD``: the whole text in one message_payload TLV (5.3.2.32); the SMSC splits it.
    """

    UDH8 = "8"
    UDH16 = "16"
    SAR = "sar"
    PAYLOAD = "payload"

    __hash__ = object.__hash__  # see Encoding

    @property
    def ref_bits(self) -> int:
        """Width of the concatenation reference: 8 for UDH8, 16 otherwise."""
        return 8 if self is SplitMethod.UDH8 else 16


# SMPP 3.4 5.2.19 for 0x00-0x0F; unknown or national values travel as binary.
_SMPP_DATA_CODING: Final[dict[int, Encoding]] = {
    0x01: Encoding.ASCII,
    0x02: Encoding.BINARY,
    0x03: Encoding.LATIN1,
    0x04: Encoding.BINARY,
    0x08: Encoding.UCS2,
}

# TS 23.038 section 4: alphabet bits of the general and message-class coding groups.
_ALPHABET_BITS: Final = (Encoding.GSM7, Encoding.BINARY, Encoding.UCS2, Encoding.BINARY)


def encoding_for_data_coding(
    data_coding: int, *, default_alphabet: Encoding = Encoding.GSM7
) -> Encoding:
    """The encoding of inbound user data with this SMPP data_coding.

    data_coding 0 is the SMSC default alphabet: GSM7 unless the channel says otherwise
    (``default_alphabet=Encoding.ASCII``). Values 0x10 and up follow the coding groups of
    3GPP TS 23.038 section 4; compressed text and alphabets this layer does not decode (JIS,
    Cyrillic, Hebrew, KS C 5601, …) come back as BINARY so the octets still reach the
    application intact.
    """
    if data_coding == 0:
        return default_alphabet
    if data_coding < 0x10:
        return _SMPP_DATA_CODING.get(data_coding, Encoding.BINARY)
    group = data_coding >> 4
    if group <= 0x07:  # general data coding / automatic deletion; bit 5 = compressed
        if data_coding & 0x20:
            return Encoding.BINARY
        return _ALPHABET_BITS[(data_coding >> 2) & 0x03]
    if group in (0x0C, 0x0D):  # message waiting indication, GSM 7-bit
        return Encoding.GSM7
    if group == 0x0E:  # message waiting indication, UCS2
        return Encoding.UCS2
    if group == 0x0F:  # data coding / message class: bit 2 = 8-bit data
        return Encoding.BINARY if data_coding & 0x04 else Encoding.GSM7
    return Encoding.BINARY  # 0x80-0xBF: reserved coding groups


_CMPP_MSG_FMT: Final[dict[int, Encoding]] = {
    0: Encoding.ASCII,
    4: Encoding.BINARY,
    8: Encoding.UCS2,
    15: Encoding.GB18030,
}


def encoding_for_msg_fmt(msg_fmt: int) -> Encoding:
    """The encoding of a CMPP Msg_Fmt; others (3 SIM card write, vendor values) are BINARY."""
    return _CMPP_MSG_FMT.get(msg_fmt, Encoding.BINARY)
