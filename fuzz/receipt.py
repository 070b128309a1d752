"""Fuzz target ``receipt``: delivery receipt text and status reports as carriers send them.

Each input is the content of a receipt-bearing message:

- SMPP: ``parse_receipt`` of the octets, and of them read as UTF-8 (a str with characters
  beyond Latin-1, as a caller may pass), then every property of the receipt (dates, counts,
  state);
- SMGP: ``parse_report`` and its properties; where the fixed-offset fast path reads the
  input, the keyword parser must give the same report;
- CMPP: ``parse_report`` and ``report_id_and_stat``;
- Msg_Id / MsgID text: CMPP ``parse_msg_id``, ``msg_id_candidates`` and SMGP
  ``normalise_msg_id`` of the input as text.

Documented errors: ReceiptParseError (SMPP: no ``id:``), ReportDecodeError (CMPP, SMGP: a
report that cannot be correlated) and, for the Msg_Id text functions only, ValueError ("not a
Msg_Id in any known text form"). Anything else is a crash.
"""

from __future__ import annotations

import contextlib

import atheris
from _common import fuzz, touch

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine import cmpp, smgp
    from smsengine.smgp import report as smgp_report
    from smsengine.smpp import ReceiptParseError, parse_receipt


def test_one(data: bytes) -> None:
    for text in (data, data.decode("utf-8", "replace")):
        with contextlib.suppress(ReceiptParseError):
            touch(parse_receipt(text))

    with contextlib.suppress(smgp.ReportDecodeError):
        touch(smgp.parse_report(data))
    # parse_report takes the fast path only after the "id:" it requires.
    fast = smgp_report._parse_spec_layout(data) if data[:3] == b"id:" else None
    if fast is not None:
        general: object
        try:
            general = smgp_report._parse_keywords(data)
        except smgp.ReportDecodeError as exc:
            general = exc
        if general != fast:
            raise AssertionError(f"SMGP report parsers disagree:\n fast:     {fast!r}\n"
                                 f" keywords: {general!r}")

    with contextlib.suppress(cmpp.ReportDecodeError):
        touch(cmpp.parse_report(data))
    with contextlib.suppress(cmpp.ReportDecodeError):
        cmpp.report_id_and_stat(data)

    text = data.decode("latin-1")
    cmpp.msg_id_candidates(text)
    for parse in (cmpp.parse_msg_id, smgp.normalise_msg_id):
        with contextlib.suppress(ValueError):
            parse(text)


if __name__ == "__main__":
    fuzz("receipt", test_one, (ReceiptParseError, cmpp.ReportDecodeError,
                                smgp.ReportDecodeError))
