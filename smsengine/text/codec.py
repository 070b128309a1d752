"""Text <-> user data octets in each encoding, and the choice of encoding for a text.

GSM 7-bit per 3GPP TS 23.038 6.2.1 (see :mod:`smsengine.text.gsm`); UCS2 as UTF-16BE with
surrogate pairs, which is what handsets and SMSCs do with data_coding 8 today; GB18030 for CMPP
Msg_Fmt 15; BINARY octets as Latin-1 code points so every octet string has a text view.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, Literal

from . import gsm
from .constants import Encoding
from .errors import TextDecodeError, TextError, UnencodableTextError

__all__ = ["DEFAULT_ENCODINGS", "choose_encoding", "decode", "encode", "first_unencodable"]

_GSM7: Final = Encoding.GSM7  # a module global: Encoding.GSM7 is a slow lookup in 3.11

#: The default choice: GSM 7-bit when the text allows it, else UCS2 (which takes anything).
DEFAULT_ENCODINGS: Final = (Encoding.GSM7, Encoding.UCS2)

_CODEC: Final[dict[Encoding, str]] = {
    Encoding.ASCII: "ascii",
    Encoding.LATIN1: "latin-1",
    Encoding.BINARY: "latin-1",
    Encoding.UCS2: "utf-16-be",
    Encoding.GB18030: "gb18030",
}

# What each encoding cannot represent. UTF-16 and GB18030 cover every code point except
# lone surrogates (which a Python str can hold).
_OUTSIDE: Final[dict[Encoding, re.Pattern[str]]] = {
    Encoding.ASCII: re.compile("[^\x00-\x7f]"),
    Encoding.LATIN1: re.compile("[^\x00-\xff]"),
    Encoding.BINARY: re.compile("[^\x00-\xff]"),
    Encoding.UCS2: re.compile("[\ud800-\udfff]"),
    Encoding.GB18030: re.compile("[\ud800-\udfff]"),
}


_ASCII_ENC: Final = Encoding.ASCII


def first_unencodable(text: str, encoding: Encoding) -> int:
    """Index of the first character of ``text`` that ``encoding`` cannot represent, or -1."""
    if encoding is _GSM7:
        return gsm.first_unencodable(text)
    if encoding is _ASCII_ENC and text.isascii():  # one C scan, no regex (CMPP's Msg_Fmt 0)
        return -1
    m = _OUTSIDE[encoding].search(text)
    return -1 if m is None else m.start()


def encode(text: str, encoding: Encoding) -> bytes:
    """The user data octets of ``text`` (GSM7 unpacked, one septet per octet).

    Raises :class:`UnencodableTextError` naming the first character that does not fit.
    """
    if encoding is _GSM7:
        return gsm.encode_unpacked(text)
    try:
        return text.encode(_CODEC[encoding])
    except UnicodeEncodeError as exc:
        raise UnencodableTextError(encoding, text[exc.start], exc.start) from None


def decode(
    octets: bytes, encoding: Encoding, errors: Literal["strict", "replace"] = "strict"
) -> str:
    """Text from user data octets (no UDH). GSM7 is unpacked, one septet per octet.

    Octets that do not decode raise :class:`TextDecodeError`, or become U+FFFD with
    ``errors="replace"`` (for text from peers, which must always reach the application).
    """
    if encoding is _GSM7:
        return gsm.decode_unpacked(octets, errors)
    try:
        return octets.decode(_CODEC[encoding], errors)
    except UnicodeDecodeError as exc:
        raise TextDecodeError(encoding, exc.start, exc.reason) from None


def choose_encoding(text: str, allowed: Iterable[Encoding] = DEFAULT_ENCODINGS) -> Encoding:
    """The first encoding in ``allowed`` that represents ``text`` exactly.

    ``allowed`` is the channel's (or message's) list in order of preference; list the cheapest
    first, as the default does: GSM7 (7-bit) before LATIN1 (8-bit) before UCS2 (16-bit).
    BINARY is not a text encoding and is refused. When nothing fits, the error names the first
    character the *last* allowed encoding cannot represent.
    """
    last: Encoding | None = None
    for encoding in allowed:
        if encoding is Encoding.BINARY:
            raise TextError("BINARY is not a text encoding; split octets (bytes) instead")
        if first_unencodable(text, encoding) < 0:
            return encoding
        last = encoding
    if last is None:
        raise TextError("no encoding allowed")
    position = first_unencodable(text, last)
    raise UnencodableTextError(last, text[position], position)
