"""Fuzz target ``cmpp``: the CMPP 2.0/3.0 framer and decoders (smsengine.cmpp).

Each input is a byte stream as an ISMG might send it, read in both layouts (Version 0x20 and
0x30):

- ``decode`` (one whole PDU);
- ``Framer.feed`` whole, and again in pieces (1 to 29 octets, from the input's length): the
  same events either way;
- every decoded PDU's repr and properties (a Deliver's ``report`` parses its Msg_Content), and
  an InvalidPdu's response.

Documented errors: PduDecodeError (the framer turns it into an InvalidPdu event), FramingError
(Total_Length out of bounds) and ReportDecodeError (a status report under 15 octets, from
``Deliver.report``). Anything else is a crash.
"""

from __future__ import annotations

import contextlib

import atheris
from _common import frame, fuzz, same_events, touch

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine.cmpp import (
        Framer,
        FramingError,
        InvalidPdu,
        PduDecodeError,
        ReportDecodeError,
        Version,
        decode,
    )

VERSIONS = (Version.V20, Version.V30)


def _touch(event: object) -> None:
    if isinstance(event, InvalidPdu):
        touch(event.response)
    elif not isinstance(event, (int, tuple)):
        with contextlib.suppress(ReportDecodeError):
            touch(event)


def test_one(data: bytes) -> None:
    for version in VERSIONS:
        try:
            _touch(decode(data, version))
        except PduDecodeError as exc:
            touch(exc.response)

        def make(version: int = version) -> Framer:
            return Framer(version)

        events = frame(make, data, len(data) or 1, FramingError)
        for event in events:
            _touch(event)
        same_events(events, frame(make, data, 1 + len(data) % 29, FramingError))


if __name__ == "__main__":
    fuzz("cmpp", test_one, (PduDecodeError, FramingError, ReportDecodeError))
