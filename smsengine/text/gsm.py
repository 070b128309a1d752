"""The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 section 6.2.1), and
7-bit packing (23.038 6.1.2.1) with the fill bits after a user data header (23.040 9.2.3.24).

SMPP carries data_coding 0 *unpacked*, one septet per octet (:func:`encode_unpacked`); the SMSC
packs it for the air interface, where 160 septets fill 140 octets. :func:`pack_user_data` does
the SMSC's packing and is how the segmenter's "fits 140 octets" promise is checked.

An extension character (``^ { } \\ [ ~ ] | €`` and form feed) is the escape septet 0x1B
followed by its code, so it costs two septets. The encoder only ever writes 0x1B as the first
septet of such a pair, which is what lets the segmenter see a split pair from one octet.
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import Final, Literal

from .constants import Encoding
from .errors import TextDecodeError, UdhError, UnencodableTextError

__all__ = [
    "BASIC_CHARACTERS",
    "ESCAPE",
    "EXTENSION_CHARACTERS",
    "decode_unpacked",
    "encode_unpacked",
    "fill_bits",
    "first_unencodable",
    "pack_septets",
    "pack_user_data",
    "unpack_septets",
    "unpack_user_data",
]

#: The escape to the extension table (23.038 6.2.1.1).
ESCAPE: Final = 0x1B

#: The default alphabet, indexed by septet (23.038 6.2.1); 0x1B is the escape.
BASIC_CHARACTERS: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

#: The extension table (23.038 6.2.1.1): septet after the escape -> character.
EXTENSION_CHARACTERS: Final[dict[int, str]] = {
    0x0A: "\x0c",  # form feed (page break)
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

# Encoding is str.translate to one code point per septet (two for an extension character),
# then a Latin-1 encode: both loops run in C. Whether the text is GSM at all is one regular
# expression search, which also finds the first offending character for the error.
_TO_SEPTETS: Final[dict[int, str]] = {
    ord(c): chr(i) for i, c in enumerate(BASIC_CHARACTERS) if i != ESCAPE
} | {ord(c): f"\x1b{chr(code)}" for code, c in EXTENSION_CHARACTERS.items()}

_NON_GSM: Final = re.compile(
    "[^"
    + re.escape(BASIC_CHARACTERS.replace("\x1b", "") + "".join(EXTENSION_CHARACTERS.values()))
    + "]"
)
# ASCII text, the usual case, encodes faster as bytes: one bytes.translate through this table,
# which maps each ASCII character of the basic alphabet to its septet and everything else (an
# extension character, a control character, "`") to 0xFF, never a septet: then the text takes
# the general path.
_ASCII_TO_SEPTETS: Final = bytes(
    ord(_TO_SEPTETS[i]) if i < 0x80 and len(_TO_SEPTETS.get(i, "xx")) == 1 else 0xFF
    for i in range(256)
)

# Decoding table for codecs.charmap_decode: septets 0x00-0x7F; the escape and 0x80-0xFF are
# undefined (U+FFFE), so they fail in strict mode and become U+FFFD with errors="replace".
_FROM_SEPTETS: Final = BASIC_CHARACTERS.replace("\x1b", "\ufffe") + "\ufffe" * 128


def first_unencodable(text: str) -> int:
    """Index of the first character outside the GSM alphabet, or -1."""
    m = _NON_GSM.search(text)
    return -1 if m is None else m.start()


def encode_unpacked(text: str) -> bytes:
    """GSM 7-bit septets, one per octet (SMPP data_coding 0); extension characters as two."""
    if text.isascii():
        septets = text.encode("ascii").translate(_ASCII_TO_SEPTETS)
        if 0xFF not in septets:
            return septets
    m = _NON_GSM.search(text)
    if m is not None:
        raise UnencodableTextError(Encoding.GSM7, m.group(), m.start())
    return text.translate(_TO_SEPTETS).encode("latin-1")


def _decode_run(octets: bytes, start: int, errors: str) -> str:
    """Decode octets without escapes; ``start`` is their offset, for the error."""
    try:
        return codecs.charmap_decode(octets, errors, _FROM_SEPTETS)[0]
    except UnicodeDecodeError as exc:
        raise TextDecodeError(
            Encoding.GSM7, start + exc.start, f"0x{octets[exc.start]:02X} is not a septet"
        ) from None


def decode_unpacked(octets: bytes, errors: Literal["strict", "replace"] = "strict") -> str:
    """Text from unpacked GSM septets, one per octet.

    An escape followed by a code the extension table does not define shows the default
    alphabet's character for that code, and escape-escape shows a space (23.038 6.2.1.1).
    An escape with nothing after it, or an octet above 0x7F, raises :class:`TextDecodeError`,
    or becomes U+FFFD with ``errors="replace"``.
    """
    if ESCAPE not in octets:
        return _decode_run(octets, 0, errors)
    out: list[str] = []
    pos = 0
    end = len(octets)
    while True:
        j = octets.find(ESCAPE, pos)
        if j < 0:
            out.append(_decode_run(octets[pos:], pos, errors))
            return "".join(out)
        out.append(_decode_run(octets[pos:j], pos, errors))
        if j + 1 == end:
            if errors == "strict":
                raise TextDecodeError(Encoding.GSM7, j, "escape (0x1B) with nothing after it")
            out.append("\ufffd")
            return "".join(out)
        code = octets[j + 1]
        if code == ESCAPE:
            out.append(" ")
        elif code in EXTENSION_CHARACTERS:
            out.append(EXTENSION_CHARACTERS[code])
        else:
            out.append(_decode_run(octets[j + 1 : j + 2], j + 1, errors))
        pos = j + 2


# --- 7-bit packing ---------------------------------------------------------------------------
#
# Septet i occupies bits 7i..7i+6 of a little-endian bit stream (23.038 6.1.2.1). Packing n
# septets is compressing n 8-bit lanes of one big integer into 7-bit lanes; done pairwise with
# masks (lanes of 8 -> 16 -> 32 ... bits), it is log2(n) rounds of big-integer operations
# instead of a Python loop per septet.


@functools.lru_cache(maxsize=32)
def _masks(lanes: int) -> tuple[tuple[int, int, int, int], ...]:
    """Per merge round: (shift, low mask, high mask, high mask after the merge)."""
    rounds: list[tuple[int, int, int, int]] = []
    width, data = 8, 7
    while width < 8 * lanes:
        pairs = (8 * lanes) // (2 * width)
        rep = ((1 << (2 * width * pairs)) - 1) // ((1 << (2 * width)) - 1)
        low = ((1 << data) - 1) * rep
        high = low << width
        rounds.append((width - data, low, high, low << data))
        width, data = 2 * width, 2 * data
    return tuple(rounds)


def _lanes(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets (one per octet, each < 0x80) into 7-bit octets after ``fill_bits`` zeros."""
    n = len(septets)
    if not n:
        return b""
    value = int.from_bytes(septets, "little")
    if value & int.from_bytes(b"\x80" * n, "little"):
        bad = next(i for i, s in enumerate(septets) if s & 0x80)
        raise TextDecodeError(Encoding.GSM7, bad, f"0x{septets[bad]:02X} is not a septet")
    for shift, low, high, _ in _masks(_lanes(n)):
        value = (value & low) | ((value & high) >> shift)
    return (value << fill_bits).to_bytes((7 * n + fill_bits + 7) // 8, "little")


def unpack_septets(octets: bytes, count: int | None = None, fill_bits: int = 0) -> bytes:
    """Septets, one per octet, from packed 7-bit octets (``count`` of them after ``fill_bits``).

    Without ``count``, as many whole septets as the octets hold.
    """
    available = max(0, (8 * len(octets) - fill_bits) // 7)
    if count is None:
        count = available
    elif count > available:
        raise TextDecodeError(
            Encoding.GSM7, len(octets), f"{count} septets do not fit in {len(octets)} octets"
        )
    if count <= 0:
        return b""
    value = (int.from_bytes(octets, "little") >> fill_bits) & ((1 << (7 * count)) - 1)
    for shift, low, _, high_packed in reversed(_masks(_lanes(count))):
        value = (value & low) | ((value & high_packed) << shift)
    return value.to_bytes(_lanes(count), "little")[:count]


def fill_bits(udh_octets: int) -> int:
    """Fill bits after a UDH of this many octets (UDHL included), so text starts on a septet."""
    return (7 - (8 * udh_octets) % 7) % 7


def pack_user_data(user_data: bytes, *, udhi: bool) -> tuple[bytes, int]:
    """(TP-UD octets, TP-UDL in septets) for unpacked GSM user data, as the SMSC sends it on air.

    With ``udhi`` the user data starts with a UDH (UDHL and IEs), which stays in octets; the
    septets after it are packed behind the fill bits (TS 23.040 9.2.3.24).
    """
    if not udhi:
        return pack_septets(user_data), len(user_data)
    header_len = _header_length(user_data)
    fill = fill_bits(header_len)
    body = user_data[header_len:]
    packed = user_data[:header_len] + pack_septets(body, fill)
    return packed, (8 * header_len + fill) // 7 + len(body)


def unpack_user_data(octets: bytes, udl: int, *, udhi: bool) -> bytes:
    """Unpacked user data (UDH octets, then one septet per octet) from TP-UD and TP-UDL."""
    if not udhi:
        return unpack_septets(octets, udl)
    header_len = _header_length(octets)
    fill = fill_bits(header_len)
    count = udl - (8 * header_len + fill) // 7
    return octets[:header_len] + unpack_septets(octets[header_len:], max(count, 0), fill)


def _header_length(user_data: bytes) -> int:
    if not user_data or user_data[0] + 1 > len(user_data):
        raise UdhError(
            f"UDHL {user_data[0] if user_data else 'missing'} runs past the "
            f"{len(user_data)} octets of user data",
            offset=0,
        )
    return user_data[0] + 1
