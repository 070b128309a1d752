"""Fuzz target ``smgp``: the SMGP 3.0 framer and decoders (smsengine.smgp).

Each input is a byte stream as an ISMG might send it, read as 3.0 (with TLVs) and as 2.0:

- ``decode`` (one whole PDU), of it as bytes and as a memoryview (the two must agree);
- ``Framer.feed`` whole, and again in pieces (1 to 29 octets, from the input's length): the
  same events either way;
- every decoded PDU's repr and properties (a Deliver's ``report`` parses its MsgContent), and
  an InvalidPdu's response.

Documented errors: PduDecodeError (the framer turns it into an InvalidPdu event), FramingError
(PacketLength out of bounds) and ReportDecodeError (a report that cannot be correlated, from
``Deliver.report``). Anything else is a crash.
"""

from __future__ import annotations

import contextlib

import atheris
from _common import frame, fuzz, same_events, touch

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine.smgp import (
        Framer,
        FramingError,
        InvalidPdu,
        PduDecodeError,
        ReportDecodeError,
        Version,
        decode,
    )

VERSIONS = (Version.V30, Version.V20)


def _touch(event: object) -> None:
    if isinstance(event, InvalidPdu):
        touch(event.response)
    elif not isinstance(event, (int, tuple)):
        with contextlib.suppress(ReportDecodeError):
            touch(event)


def _decoded(data: bytes | memoryview, version: int) -> object:
    try:
        pdu = decode(data, version)
    except PduDecodeError as exc:
        touch(exc.response)
        return ("refused", type(exc).__name__, str(exc), exc.status, exc.response)
    _touch(pdu)
    return pdu


def test_one(data: bytes) -> None:
    for version in VERSIONS:
        first = _decoded(data, version)
        again = _decoded(memoryview(data), version)
        if again != first:
            raise AssertionError(f"decode depends on the buffer type:\n bytes: {first!r}\n"
                                 f" memoryview: {again!r}")

        def make(version: int = version) -> Framer:
            return Framer(version)

        events = frame(make, data, len(data) or 1, FramingError)
        for event in events:
            _touch(event)
        same_events(events, frame(make, data, 1 + len(data) % 29, FramingError))


if __name__ == "__main__":
    fuzz("smgp", test_one, (PduDecodeError, FramingError, ReportDecodeError))
