"""Short message text, sans-I/O: encodings, long-message segmentation, counting, reassembly.

- Encodings (:class:`Encoding`): the GSM 7-bit default alphabet and extension table (3GPP TS
  23.038 6.2.1; unpacked for SMPP, packed in :mod:`smsengine.text.gsm`), ASCII, Latin-1, UCS2
  as UTF-16BE with surrogate pairs, binary, and GB18030 for CMPP. :func:`choose_encoding`
  picks the first the channel allows that represents the text exactly.
- :func:`split` cuts a message into parts of at most 140 octets on air, with a UDH (23.040
  9.2.3.24), SAR TLVs (SMPP 3.4 5.3.2.22-24) or one message_payload, never inside a GSM escape
  pair, a surrogate pair or a grapheme cluster; :func:`count` says what it will cost.
- :class:`ReferenceCounter` hands out concatenation references per destination;
  :class:`Reassembler` puts inbound parts back together; :func:`parse_udh` reads a UDH.

Nothing here does I/O or reads a clock; the protocol layers import this, never the reverse.

>>> from smsengine.text import split, SplitMethod
>>> s = split("您好" * 40, ref=7)          # 80 UCS2 units: two parts, 67 + 13
>>> s.encoding.value, s.data_coding, [p.units for p in s.parts]
('ucs2', 8, [67, 13])
>>> s.parts[0].user_data[:6].hex(), s.parts[0].udhi
('050003070201', True)
"""

from .codec import DEFAULT_ENCODINGS, choose_encoding, decode, encode, first_unencodable
from .constants import (
    MAX_PARTS,
    USER_DATA_OCTETS,
    Encoding,
    SplitMethod,
    encoding_for_data_coding,
    encoding_for_msg_fmt,
)
from .errors import (
    MessageTooLongError,
    TextDecodeError,
    TextError,
    UdhError,
    UnencodableTextError,
)
from .reassembly import Reassembled, Reassembler
from .refs import ReferenceCounter
from .segment import Count, Part, Split, capacity, count, single_part, split
from .udh import ConcatInfo, InformationElement, UserDataHeader, concat_udh, parse_udh

__all__ = [
    "DEFAULT_ENCODINGS",
    "MAX_PARTS",
    "USER_DATA_OCTETS",
    "ConcatInfo",
    "Count",
    "Encoding",
    "InformationElement",
    "MessageTooLongError",
    "Part",
    "Reassembled",
    "Reassembler",
    "ReferenceCounter",
    "Split",
    "SplitMethod",
    "TextDecodeError",
    "TextError",
    "UdhError",
    "UnencodableTextError",
    "UserDataHeader",
    "capacity",
    "choose_encoding",
    "concat_udh",
    "count",
    "decode",
    "encode",
    "encoding_for_data_coding",
    "encoding_for_msg_fmt",
    "first_unencodable",
    "parse_udh",
    "single_part",
    "split",
]
