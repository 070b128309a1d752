"""Delivery receipt text (SMPP 3.4 Appendix B), built and parsed.

The appendix shows one format::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
    err:E text:...

Carriers vary it: key case (``ID:``, ``Stat:``), ``submit_date`` with an underscore, 12-digit
dates with seconds (or 14 with the century), hex or decimal or UUID-like ids, alphanumeric
``err``, fields missing or in another order, and a trailing ``text:`` that may itself contain
anything. The parser accepts all of those; only a missing ``id`` is an error, because such a
receipt cannot be correlated with anything.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final

import msgspec

from .constants import CommandStatus, MessageState
from .errors import SmppError

__all__ = ["DeliveryReceipt", "ReceiptParseError", "parse_receipt"]

# A key is recognised at the start or after white space, in any case, with ``_``/``-``/space or
# nothing between "submit"/"done" and "date".
_KEY: Final = re.compile(
    r"(?:(?<=\s)|^)(id|sub|dlvrd|submit\s*[_-]?\s*date|done\s*[_-]?\s*date|stat|err|text)\s*:",
    # Without ASCII, IGNORECASE lets U+017F (long s) match 's' and U+0131 (dotless i) match 'i'.
    re.IGNORECASE | re.ASCII,
)
_CANON: Final = {
    "id": "id",
    "sub": "sub",
    "dlvrd": "dlvrd",
    "stat": "stat",
    "err": "err",
    "text": "text",
}

# Receipt stat words as carriers write them, mapped to message_state.
_STATES: Final[dict[str, MessageState]] = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "DELIVERED": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "ACCEPTED": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "REJECTED": MessageState.REJECTED,
}


class ReceiptParseError(SmppError):
    """The text is not a delivery receipt we can correlate (it has no ``id:``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=CommandStatus.ESME_RX_P_APPN)


def _canon_key(raw: str) -> str:
    key = raw.lower()
    if key.startswith("submit"):
        return "submit_date"
    if key.startswith("done"):
        return "done_date"
    return _CANON[key]


def _parse_date(value: str) -> _dt.datetime | None:
    """YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss; None when it is none of those."""
    d = value.strip()
    n = len(d)
    if n not in (10, 12, 14) or not d.isdigit() or not d.isascii():
        return None
    if n == 14:
        year, d = int(d[:4]), d[2:]
    else:
        year = 2000 + int(d[:2])
    try:
        return _dt.datetime(
            year, int(d[2:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12] or 0)
        )
    except ValueError:  # month 13, hour 25, ...: not a date
        return None


def _parse_count(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and value.isascii() else None


class DeliveryReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of a delivery receipt, as text.

    ``submit_date``/``done_date`` keep the digits as sent; :attr:`submitted_at` and
    :attr:`done_at` read them as naive datetimes (SMSCs write their local time). Parsing them
    only on demand keeps the receipt path cheap: correlation needs the id and the stat.
    """

    id: str
    sub: str = ""
    dlvrd: str = ""
    submit_date: str = ""
    done_date: str = ""
    stat: str = ""
    err: str = ""
    text: str = ""

    @property
    def submitted_at(self) -> _dt.datetime | None:
        return _parse_date(self.submit_date)

    @property
    def done_at(self) -> _dt.datetime | None:
        return _parse_date(self.done_date)

    @property
    def submitted_count(self) -> int | None:
        """``sub:`` as a number (None when absent or not a number)."""
        return _parse_count(self.sub)

    @property
    def delivered_count(self) -> int | None:
        """``dlvrd:`` as a number (None when absent or not a number)."""
        return _parse_count(self.dlvrd)

    @property
    def state(self) -> MessageState | None:
        """The message_state the ``stat`` word stands for, or None for a word we don't know."""
        return _STATES.get(self.stat.upper())

    @classmethod
    def build(
        cls,
        id: str,
        stat: str | MessageState,
        *,
        submitted_at: _dt.datetime,
        done_at: _dt.datetime,
        err: str | int = 0,
        text: str = "",
        sub: int = 1,
        dlvrd: int | None = None,
        date_digits: int = 10,
    ) -> DeliveryReceipt:
        """A receipt in the Appendix B conventions: zero-padded counts and err, 10-digit dates
        (``date_digits=12`` adds seconds), the first 20 characters of the text."""
        if date_digits not in (10, 12):
            raise ValueError("date_digits must be 10 or 12")
        fmt = "%y%m%d%H%M" if date_digits == 10 else "%y%m%d%H%M%S"
        word = stat.stat if isinstance(stat, MessageState) else stat
        if dlvrd is None:
            dlvrd = sub if _STATES.get(word.upper()) is MessageState.DELIVERED else 0
        return cls(
            id=id,
            sub=f"{sub:03d}",
            dlvrd=f"{dlvrd:03d}",
            submit_date=submitted_at.strftime(fmt),
            done_date=done_at.strftime(fmt),
            stat=word,
            err=f"{err:03d}" if isinstance(err, int) else err,
            text=text[:20],
        )

    def to_text(self) -> str:
        """The Appendix B form of these fields."""
        return (
            f"id:{self.id} sub:{self.sub} dlvrd:{self.dlvrd} submit date:{self.submit_date} "
            f"done date:{self.done_date} stat:{self.stat} err:{self.err} text:{self.text}"
        )

    def encode(self) -> bytes:
        """:meth:`to_text` as the octets of a short_message."""
        return self.to_text().encode("latin-1", "replace")


# The Appendix B layout, as almost every SMSC sends it: one match, no key bookkeeping.
_STANDARD: Final = re.compile(
    r"id:(\S+)\s+sub:(\S*)\s+dlvrd:(\S*)\s+submit[ _]?date:(\d*)\s+done[ _]?date:(\d*)"
    r"\s+stat:(\S*)\s+err:(\S*)(?:\s+text:(.*))?\s*",
    re.IGNORECASE | re.DOTALL | re.ASCII,
)


def parse_receipt(text: str | bytes) -> DeliveryReceipt:
    """Parse receipt text; tolerant of the variants carriers send (see the module docstring)."""
    if not isinstance(text, str):
        text = bytes(text).decode("latin-1")
    if text.endswith("\0"):  # some SMSCs terminate the text with NULs (inside, they are data)
        text = text.rstrip("\0")
    m = _STANDARD.fullmatch(text)
    if m is not None:
        rid, sub, dlvrd, sdate, ddate, stat, err, body = m.groups()
        return DeliveryReceipt(
            id=rid,
            sub=sub,
            dlvrd=dlvrd,
            submit_date=sdate,
            done_date=ddate,
            stat=stat,
            err=err,
            text=body.strip() if body else "",
        )
    return _parse_general(text)


def _parse_general(text: str) -> DeliveryReceipt:
    """Key by key. Every field but ``text`` is one token: whatever follows it up to the next
    key (an unknown key, a missing ``text:``, a stat word without ``stat:``) is not its value."""
    matches = list(_KEY.finditer(text))
    fields: dict[str, str] = {}
    stray: list[str] = []
    for i, m in enumerate(matches):
        key = _canon_key(m.group(1))
        if key in fields:
            # A repeated key can only be inside the free text of an earlier ``text:``.
            continue
        if key == "text":
            # text: is free-form. It ends at the next key only when every key after it is a
            # field we have not seen yet (a receipt with its fields reordered); otherwise it runs
            # to the end of the receipt, as in Appendix B.
            later = [_canon_key(n.group(1)) for n in matches[i + 1 :]]
            seen = fields.keys() | {"text"}
            if later and len(set(later)) == len(later) and not set(later) & seen:
                fields[key] = text[m.end() : matches[i + 1].start()].strip()
                continue
            fields[key] = text[m.end() :].strip()
            break
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        tokens = text[m.end() : end].split()
        fields[key] = tokens[0] if tokens else ""
        stray += tokens[1:]
    receipt_id = fields.pop("id", "")
    if not receipt_id:
        raise ReceiptParseError(f"no id: field in receipt text {text[:80]!r}")
    if "stat" not in fields:
        # Some SMSCs drop the "stat:" key but keep the word ("done date:… DELIVRD err:000").
        fields["stat"] = next((t for t in stray if t.upper() in _STATES), "")
    return DeliveryReceipt(id=receipt_id, **fields)
