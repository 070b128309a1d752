"""SMSC message id normalisation, so a receipt finds its submit however the carrier writes it.

Carriers answer submit_sm_resp with an id in one form and write receipts with it in another:
hex in one and decimal in the other, with or without leading zeros, in upper or lower case.
Each channel declares its style; ``auto`` tries the forms that are unambiguous.

A normalised id is a canonical string: for numeric styles the integer value in decimal without
leading zeros; otherwise the id in lower case with leading zeros stripped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

__all__ = ["IdStyle", "normalise_id", "normaliser", "receipt_id_candidates"]

IdStyle = Literal["auto", "decimal", "hex", "text"]
_HEX = frozenset("0123456789abcdefABCDEF")


def normalise_id(raw: str, style: IdStyle = "auto") -> str:
    """The canonical form of an id as the submit_sm_resp gave it."""
    if style == "auto" or style == "text":
        return _normalise_text(raw)
    raw = raw.strip().rstrip("\0")
    if style == "decimal" and raw.isdigit():
        return str(int(raw))
    if style == "hex" and raw and set(raw) <= _HEX:
        return str(int(raw, 16))
    return raw.lower().lstrip("0") or "0"


def _normalise_text(raw: str) -> str:
    return raw.strip().rstrip("\0").lower().lstrip("0") or "0"


def normaliser(style: IdStyle) -> Callable[[str], str]:
    """``normalise_id`` for one style, as a one-argument function: for ``auto`` (the usual
    style) the text form without the style tests, which correlation calls twice per part."""
    if style == "auto" or style == "text":
        return _normalise_text
    return functools.partial(normalise_id, style=style)


def receipt_id_candidates(raw: str, style: IdStyle = "auto") -> tuple[str, ...]:
    """Canonical forms a receipt's id may stand for, most likely first.

    With ``auto``, a receipt id in decimal may be the decimal rendering of a hex submit id (a
    common carrier habit), so both readings are offered; the store holds only one of them.
    """
    raw = raw.strip().rstrip("\0")
    if style != "auto":
        return (normalise_id(raw, style),)
    first = raw.lower().lstrip("0") or "0"
    out = [first]
    if raw.isdigit():
        # submit id was hex, receipt gives its decimal value: canonical text form is the hex
        out.append(f"{int(raw):x}")
    if raw and set(raw) <= _HEX:
        # submit id was decimal, receipt gives it in hex (which may happen to be all digits)
        out.append(str(int(raw, 16)))
    return tuple(dict.fromkeys(out))
