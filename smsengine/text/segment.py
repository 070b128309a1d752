"""Long-message segmentation that never breaks a character, and the counting behind billing.

One short message carries 140 octets of user data on the air interface, header included
(3GPP TS 23.040 9.2.3.24). A text that fits is one part: 160 GSM septets, 140 octets, or 70 UCS2
code units. A longer text is cut into parts that each carry a concatenation header — the UDH
IE 0x00 (8-bit reference, 6 octets), IE 0x08 (16-bit reference, 7 octets), the SMPP 3.4 SAR
TLVs (5.3.2.22-24), or travels whole in one message_payload TLV (5.3.2.32) for the SMSC to cut.

Budgets are in air-interface terms. GSM 7-bit user data is sent to the SMSC unpacked (one
septet per SMPP octet) and packed by the SMSC: a part with an 8-bit-reference UDH holds
153 septets (6 header octets + 1 fill bit + 153 x 7 bits = 140 octets), although its
short_message is 159 octets on the SMPP link. ASCII is 7-bit on air too, so it has the same
budgets (160 / 153 / 152). 8-bit encodings (Latin-1, binary, GB18030) get 140 / 134 / 133
octets and UCS2 70 / 67 / 66 code units. SAR parts carry no header, but the SMSC writes one on
air and the SAR reference is 16 bits, so SAR parts are sized for the 7-octet header
(152 / 133 / 66): they fit whichever concatenation IE the SMSC chooses.

Cuts never fall between the two septets of a GSM extension character (escape 0x1B + code),
between the two halves of a UTF-16 surrogate pair, inside a GB18030 multi-octet character, or
inside a grapheme cluster (emoji ZWJ sequences, flags, keycaps, skin tones, combining marks,
CR LF, Hangul jamo; Unicode UAX #29 as the ``regex`` package implements it) — unless the
cluster alone is longer than a part; then it starts a part and is cut between code points.

Speed: no loop over the characters of a text runs in Python. GSM, ASCII and Latin-1 contain no
character that extends a grapheme cluster (only CR LF joins), so they are encoded in C and cut
by position in their octets with a one-octet look at each cut. UCS2 text is cut by position in
its UTF-16 octets, and only the two characters either side of each cut are looked at: a cut
between two characters that cannot join a cluster (everything but combining marks, ZWJ,
variation selectors, regional indicators, emoji modifiers, Hangul jamo, Indic prepends and
spacing marks, and astral characters) is a cluster boundary whatever surrounds it. Only when
that check fails are grapheme clusters computed, and only across the run of joining characters
around the cut. Chinese text never gets that far.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Final

import msgspec
import regex

from . import gsm
from .codec import DEFAULT_ENCODINGS, choose_encoding, encode, first_unencodable
from .constants import MAX_PARTS, USER_DATA_OCTETS, Encoding, SplitMethod
from .errors import MessageTooLongError, TextError, UnencodableTextError

__all__ = ["Count", "Part", "Split", "capacity", "count", "single_part", "split"]

_UDH8_OCTETS: Final = 6  # 05 00 03 ref total seq
_UDH16_OCTETS: Final = 7  # 06 08 04 ref ref total seq


def _budgets(header: int) -> dict[Encoding, int]:
    octets = USER_DATA_OCTETS - header
    septets = 8 * octets // 7
    return {
        Encoding.GSM7: septets,
        Encoding.ASCII: septets,
        Encoding.LATIN1: octets,
        Encoding.BINARY: octets,
        Encoding.GB18030: octets,
        Encoding.UCS2: octets // 2,
    }


_SINGLE: Final = _budgets(0)
_PER_PART: Final[dict[SplitMethod, dict[Encoding, int]]] = {
    SplitMethod.UDH8: _budgets(_UDH8_OCTETS),
    SplitMethod.UDH16: _budgets(_UDH16_OCTETS),
    SplitMethod.SAR: _budgets(_UDH16_OCTETS),
    SplitMethod.PAYLOAD: _budgets(_UDH8_OCTETS),  # how the SMSC will cut it, for the count
}


def capacity(encoding: Encoding, method: SplitMethod = SplitMethod.UDH8) -> tuple[int, int]:
    """(units in a single message, units per part of a long one) for this encoding and method.

    Units are septets for GSM7 and ASCII, octets for LATIN1/BINARY/GB18030, UTF-16 code units
    for UCS2. For PAYLOAD the per-part figure is how the SMSC will cut the payload on air.
    """
    return _SINGLE[encoding], _PER_PART[method][encoding]


class Part(msgspec.Struct, frozen=True, gc=False):
    """One message to send.

    ``user_data`` is ready for short_message (or message_payload): the UDH and the text's
    octets for UDH methods, the text's octets alone for SAR (put ``ref``/``total``/``seqnum``
    in the SAR TLVs) and for a single part. ``udhi`` says whether to set the esm_class UDHI bit
    (0x40). ``units`` counts the text in this part (septets, octets or UTF-16 units).
    ``ref`` is None when the message is not concatenated.
    """

    user_data: bytes
    units: int
    udhi: bool
    ref: int | None
    total: int
    seqnum: int

    @property
    def payload(self) -> bytes:
        """The text's octets, without the UDH."""
        return self.user_data[self.user_data[0] + 1 :] if self.udhi else self.user_data


class Split(msgspec.Struct, frozen=True, gc=False):
    """A message cut into parts, each of which decodes on its own.

    ``data_coding`` is the SMPP data_coding to send with every part (None for GB18030, which
    SMPP lacks; CMPP takes ``encoding.msg_fmt``). ``units`` is the whole text's count. The
    message costs ``len(parts)`` short messages, except with PAYLOAD, whose one part the SMSC
    cuts: :func:`count` says into how many.
    """

    encoding: Encoding
    data_coding: int | None
    method: SplitMethod
    parts: tuple[Part, ...]
    units: int


class Count(msgspec.Struct, frozen=True, gc=False):
    """What a message costs, for pre-flight checks and billing.

    ``parts`` is the number of short messages on the air interface (for PAYLOAD, how the SMSC
    will cut the one message_payload), ``per_part`` their units, ``units_left`` the room left
    in the last part before the message needs another.
    """

    encoding: Encoding
    data_coding: int | None
    method: SplitMethod
    parts: int
    units: int
    per_part: tuple[int, ...]
    units_left: int


# --- grapheme clusters -----------------------------------------------------------------------

_GCB_JOINERS: Final = (
    "Extend",
    "ZWJ",
    "SpacingMark",
    "Prepend",
    "Regional_Indicator",
    "L",
    "V",
    "T",
)
_CLUSTER: Final = regex.compile(r"\X")


@functools.cache
def _joiners() -> frozenset[str]:
    """The BMP characters that can join a grapheme cluster.

    Under UAX #29, two adjacent characters are in different clusters unless one of them has
    Grapheme_Cluster_Break Extend, ZWJ, SpacingMark, Prepend, Regional_Indicator, L, V or T —
    or they are CR LF. The set is read from the ``regex`` package itself, so it agrees with its
    ``\\X`` (about 1 700 characters, built once, in a few milliseconds, when first needed).
    Astral characters (emoji, their modifiers and tags) are all treated as joiners.
    """
    props = "".join(rf"\p{{Grapheme_Cluster_Break={p}}}" for p in _GCB_JOINERS)
    probe = regex.compile(f"[{props}]")
    bmp = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x10000)))
    return frozenset(probe.findall(bmp))


def _safe_cut(text: str, p: int, joiners: frozenset[str]) -> bool:
    """Whether a cut before text[p] is a cluster boundary whatever comes before or after.

    It is unless text[p - 1] or text[p] can join a cluster, or they are CR LF. This is the
    whole check at each cut of a text: only when it fails are clusters looked at.
    """
    a, b = text[p - 1], text[p]
    if a in joiners or b in joiners or a > "\uffff" or b > "\uffff":
        return False
    return not (a == "\r" and b == "\n")


def _cluster_cut(text: str, s: int, p: int) -> int:
    """The last grapheme cluster boundary in (s, p], or p if the cluster at s is longer.

    Clusters are computed from q, the last safe cut before p (or s), up to p + 1: UAX #29
    decides a boundary from the two characters around it and what precedes them, so what
    follows p + 1 cannot move a boundary at or before p. The work per cut is bounded by the
    part size however long a run of joining characters is.
    """
    joiners = _joiners()
    if _safe_cut(text, p, joiners):
        return p
    q = p - 1
    while q > s and not _safe_cut(text, q, joiners):
        q -= 1
    best = q if q > s else p
    b = q
    for cluster in _CLUSTER.findall(text[q : p + 1]):
        b += len(cluster)
        if b > p:
            break
        best = b
    return best


# --- planning: where the cuts go -------------------------------------------------------------

_Plan = tuple[list[bytes], list[int]]


def _cut_octets(data: bytes, per_part: int, gsm7: bool, crlf: bool) -> _Plan:
    """Cut encoded octets (one unit each) with a look at the octet(s) either side of a cut."""
    chunks: list[bytes] = []
    units: list[int] = []
    n = len(data)
    s = 0
    while n - s > per_part:
        e = s + per_part
        # The GSM encoder writes 0x1B only to start an escape pair; CR LF is one cluster.
        if (gsm7 and data[e - 1] == 0x1B) or (crlf and data[e - 1] == 0x0D and data[e] == 0x0A):
            e -= 1
        chunks.append(data[s:e])
        units.append(e - s)
        s = e
    chunks.append(data[s:])
    units.append(n - s)
    return chunks, units


def _cut_ucs2_bmp(text: str, data: bytes, per_part: int) -> _Plan:
    """UCS2 text without astral characters: one code unit per character."""
    chunks: list[bytes] = []
    units: list[int] = []
    joiners = _joiners()
    n = len(text)
    s = 0
    while n - s > per_part:
        e = s + per_part
        a, b = text[e - 1], text[e]  # _safe_cut, inline: no astral characters here
        if a in joiners or b in joiners or (a == "\r" and b == "\n"):
            e = _cluster_cut(text, s, e)
        chunks.append(data[2 * s : 2 * e])
        units.append(e - s)
        s = e
    chunks.append(data[2 * s :])
    units.append(n - s)
    return chunks, units


def _cut_code_points(
    text: str, total: int, per_part: int, measure: Callable[[int, int], int], codec: str
) -> _Plan:
    """Variable-width text: the longest prefix that fits, moved back to a cluster boundary."""
    chunks: list[bytes] = []
    units: list[int] = []
    n = len(text)
    s = 0
    while total > per_part:
        lo, hi = s + 1, min(n, s + per_part)  # every code point is at least one unit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if measure(s, mid) <= per_part:
                lo = mid
            else:
                hi = mid - 1
        e = _cluster_cut(text, s, lo)
        used = measure(s, e)
        chunks.append(text[s:e].encode(codec))
        units.append(used)
        total -= used
        s = e
    chunks.append(text[s:].encode(codec))
    units.append(total)
    return chunks, units


def _cut_ucs2(text: str, data: bytes, per_part: int) -> _Plan:
    """UCS2 text with joiners or astral characters: cut in code units, then move back.

    A cut after a high surrogate moves back one unit; then the code point index of the cut
    (one decode of the part) is moved back to a cluster boundary if it is not on one.
    """
    chunks: list[bytes] = []
    units: list[int] = []
    n = len(data) >> 1
    s = s_cp = 0
    while n - s > per_part:
        e = s + per_part
        if 0xD8 <= data[2 * e - 2] <= 0xDB:
            e -= 1
        p = s_cp + len(data[2 * s : 2 * e].decode("utf-16-be"))
        b = _cluster_cut(text, s_cp, p)
        if b != p:
            e = s + (len(text[s_cp:b].encode("utf-16-le")) >> 1)
        chunks.append(data[2 * s : 2 * e])
        units.append(e - s)
        s, s_cp = e, b
    chunks.append(data[2 * s :])
    units.append(n - s)
    return chunks, units


def _gb18030_measure(text: str) -> Callable[[int, int], int]:
    return lambda s, e: len(text[s:e].encode("gb18030"))


# Enum members as module globals: in Python 3.11 ``Encoding.UCS2`` is a descriptor lookup on
# the class that costs ~100 ns, which added up to a third of a split.
_GSM7: Final = Encoding.GSM7
_ASCII: Final = Encoding.ASCII
_UCS2: Final = Encoding.UCS2
_BINARY: Final = Encoding.BINARY
_GB18030: Final = Encoding.GB18030
_UDH8: Final = SplitMethod.UDH8
_SAR: Final = SplitMethod.SAR
_PAYLOAD: Final = SplitMethod.PAYLOAD
_DATA_CODING: Final = {e: e.data_coding for e in Encoding}
# The GSM encoder's two halves, so the default choice searches the text once, not twice.
_TO_SEPTETS: Final = gsm._TO_SEPTETS
_NON_GSM: Final = gsm._NON_GSM
_ASCII_TO_SEPTETS: Final = gsm._ASCII_TO_SEPTETS


def _plan(
    message: str | bytes,
    encoding: Encoding,
    per_part: int,
    max_parts: int | None,
    checked: bool = False,
) -> _Plan:
    """The parts' octets and units. ``max_parts`` None: count however many it takes.

    ``checked``: the text is known to be representable in ``encoding``.
    """
    single = _SINGLE[encoding]
    if encoding is _UCS2:
        assert isinstance(message, str)
        try:
            data = message.encode("utf-16-be")
        except UnicodeEncodeError as exc:  # a lone surrogate
            raise UnencodableTextError(encoding, message[exc.start], exc.start) from None
        total = len(data) >> 1
        if total <= single:
            return [data], [total]
        _bound(total, per_part, max_parts)
        if total == len(message):  # no astral characters: one code unit each
            return _cut_ucs2_bmp(message, data, per_part)
        return _cut_ucs2(message, data, per_part)
    if encoding is _GB18030:
        assert isinstance(message, str)
        _check(message, encoding)
        data = message.encode("gb18030")
        total = len(data)
        if total <= single:
            return [data], [total]
        _bound(total, per_part, max_parts)
        measure = _gb18030_measure(message)
        return _cut_code_points(message, total, per_part, measure, "gb18030")
    if isinstance(message, bytes):
        data = message
    elif checked and encoding is _GSM7:
        data = message.translate(_TO_SEPTETS).encode("latin-1")
    else:
        data = encode(message, encoding)
    total = len(data)
    if total <= single:
        return [data], [total]
    _bound(total, per_part, max_parts)
    return _cut_octets(data, per_part, encoding is _GSM7, encoding is not _BINARY)


def _check(text: str, encoding: Encoding) -> None:
    position = first_unencodable(text, encoding)
    if position >= 0:
        raise UnencodableTextError(encoding, text[position], position)


def _bound(total: int, per_part: int, max_parts: int | None) -> None:
    """Refuse at once a text so long that even the lower bound is far past the limit."""
    if max_parts is not None:
        at_least = -(-total // per_part)
        if at_least > 4 * max_parts:
            raise MessageTooLongError(at_least, max_parts, exact=False)


def _resolve(
    message: str | bytes,
    encoding: Encoding | None,
    allowed: Sequence[Encoding],
    ascii_data_coding: int,
) -> tuple[Encoding, int | None, bool]:
    """(encoding, data_coding, whether the text is known to fit the encoding)."""
    checked = False
    if isinstance(message, bytes):
        if encoding is not None and encoding is not _BINARY:
            raise TextError(f"octets are sent as BINARY, not {encoding.value}")
        encoding = _BINARY
    elif encoding is None:
        if allowed is DEFAULT_ENCODINGS:
            # The common case in one search: UCS2 takes everything but lone surrogates,
            # which the UCS2 path finds on its own.
            checked = _NON_GSM.search(message) is None
            encoding = _GSM7 if checked else _UCS2
        else:
            encoding = choose_encoding(message, allowed)
            checked = True
    elif encoding is _BINARY:
        raise TextError("BINARY is not a text encoding; split octets (bytes) instead")
    if encoding is _ASCII:
        if ascii_data_coding != 0 and ascii_data_coding != 1:
            raise TextError(f"ascii_data_coding must be 0 or 1, not {ascii_data_coding}")
        return encoding, ascii_data_coding, checked
    return encoding, _DATA_CODING[encoding], checked


_SEQ: Final = tuple(bytes((i,)) for i in range(256))


def split(
    message: str | bytes,
    *,
    encoding: Encoding | None = None,
    allowed: Sequence[Encoding] = DEFAULT_ENCODINGS,
    method: SplitMethod = _UDH8,
    ref: int | Callable[[], int] = 0,
    max_parts: int = MAX_PARTS,
    ascii_data_coding: int = 1,
) -> Split:
    """Encode a message and cut it into parts that each fit one short message.

    ``message`` is text, or octets (sent as BINARY). ``encoding`` forces an encoding (per
    message); otherwise the first of ``allowed`` (per channel) that represents the text exactly
    is used — GSM7, else UCS2, by default. ``ascii_data_coding`` is 1 (IA5), or 0 for carriers
    that read data_coding 0 as ASCII. ``ref`` is the concatenation reference, from a
    :class:`~smsengine.text.ReferenceCounter` for the destination (0-255 for UDH8, 0-65535
    otherwise); a single part does not use it, so it may be given as a function, called only
    when the message needs more than one part (a single-part message then uses up no
    reference).

    Raises :class:`UnencodableTextError` or :class:`MessageTooLongError` (more than
    ``max_parts`` parts, at most 255) before anything is built.
    """
    enc, data_coding, checked = _resolve(message, encoding, allowed, ascii_data_coding)
    if max_parts > MAX_PARTS or max_parts < 1:
        raise TextError(f"max_parts must be 1-{MAX_PARTS}, not {max_parts}")
    chunks, units = _plan(message, enc, _PER_PART[method][enc], max_parts, checked)
    total = len(chunks)
    if total == 1:
        return Split(enc, data_coding, method, (Part(chunks[0], units[0], False, None, 1, 1),),
                     units[0])  # fmt: skip
    if total > max_parts:
        raise MessageTooLongError(total, max_parts)
    all_units = sum(units)
    if method is _PAYLOAD:
        part = Part(b"".join(chunks), all_units, False, None, 1, 1)
        return Split(enc, data_coding, method, (part,), all_units)
    if not isinstance(ref, int):
        ref = ref()
    seq = _SEQ
    if method is _UDH8:
        if ref > 0xFF or ref < 0:
            raise TextError(f"8-bit reference {ref} is out of range 0-255")
        head = b"\x05\x00\x03" + seq[ref] + seq[total]
    elif ref > 0xFFFF or ref < 0:
        raise TextError(f"16-bit reference {ref} is out of range 0-65535")
    elif method is _SAR:
        parts = [Part(chunks[i], units[i], False, ref, total, i + 1) for i in range(total)]
        return Split(enc, data_coding, method, tuple(parts), all_units)
    else:
        head = b"\x06\x08\x04" + ref.to_bytes(2, "big") + seq[total]
    parts = [
        Part(head + seq[i + 1] + chunks[i], units[i], True, ref, total, i + 1)
        for i in range(total)
    ]
    return Split(enc, data_coding, method, tuple(parts), all_units)


def single_part(
    message: str, allowed: Sequence[Encoding] = DEFAULT_ENCODINGS
) -> tuple[int, bytes] | None:
    """``(data_coding, user_data)`` when :func:`split` would send ``message`` as one part with
    the default encodings, else None (then call :func:`split`, which also says what is wrong).

    The one-part case of the default choice, without building a :class:`Split`: a text that
    fits 160 GSM septets, or 70 UCS2 code units. Other ``allowed`` lists always give None.
    """
    if allowed is not DEFAULT_ENCODINGS:
        return None
    if message.isascii() and len(message) <= 160:
        data = message.encode("ascii").translate(_ASCII_TO_SEPTETS)
        if 0xFF not in data:  # (else an extension or non-GSM character: the general path)
            return _GSM7_CODING, data
    if _NON_GSM.search(message) is None:
        if len(message) > 160:
            return None
        data = message.translate(_TO_SEPTETS).encode("latin-1")
        return (_GSM7_CODING, data) if len(data) <= 160 else None
    if len(message) > 70:
        return None
    try:
        data = message.encode("utf-16-be")
    except UnicodeEncodeError:  # a lone surrogate: split() raises the error that names it
        return None
    return (_UCS2_CODING, data) if len(data) <= 140 else None


_GSM7_CODING: Final = 0  # Encoding.GSM7.data_coding
_UCS2_CODING: Final = 8  # Encoding.UCS2.data_coding


def count(
    message: str | bytes,
    *,
    encoding: Encoding | None = None,
    allowed: Sequence[Encoding] = DEFAULT_ENCODINGS,
    method: SplitMethod = _UDH8,
    ascii_data_coding: int = 1,
) -> Count:
    """What :func:`split` would send, without building the parts; never refuses a long text.

    ``parts`` may exceed 255 here: this is the pre-flight answer, and :func:`split` is the one
    that refuses.
    """
    enc, data_coding, checked = _resolve(message, encoding, allowed, ascii_data_coding)
    single, per_part = _SINGLE[enc], _PER_PART[method][enc]
    _, units = _plan(message, enc, per_part, None, checked)
    room = single if len(units) == 1 else per_part
    return Count(
        enc, data_coding, method, len(units), sum(units), tuple(units), room - units[-1]
    )
