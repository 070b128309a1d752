"""Fuzz target ``sgip``: the SGIP 1.2 framer and decoders (smsengine.sgip).

Each input is a byte stream as an SMG might send it:

- ``decode`` of it as bytes, as a bytearray and as a memoryview (the three must agree);
- ``Framer.feed`` whole, and again in pieces (1 to 29 octets, from the input's length): the
  same events either way;
- every decoded PDU's repr and properties, and an InvalidPdu's response.

Documented errors: PduDecodeError (the framer turns it into an InvalidPdu event) and
FramingError (Message Length out of bounds). Anything else is a crash.
"""

from __future__ import annotations

import atheris
from _common import event_key, frame, fuzz, same_events, touch

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine.sgip import Framer, FramingError, InvalidPdu, PduDecodeError, decode


def _decoded(data: bytes | bytearray | memoryview) -> object:
    try:
        pdu = decode(data)
    except PduDecodeError as exc:
        touch(exc.response)
        return ("refused", type(exc).__name__, str(exc), exc.status, exc.response)
    touch(pdu)
    return pdu


def test_one(data: bytes) -> None:
    first = _decoded(data)
    for other in (bytearray(data), memoryview(data)):
        again = _decoded(other)
        if again != first:
            raise AssertionError(f"decode depends on the buffer type ({type(other).__name__}):"
                                 f"\n bytes: {first!r}\n other: {again!r}")

    events = frame(Framer, data, len(data) or 1, FramingError)
    for event in events:
        if isinstance(event, InvalidPdu):
            touch(event.response)
        elif not isinstance(event, (int, tuple)):
            touch(event)
    same_events(events, frame(Framer, data, 1 + len(data) % 29, FramingError), event_key)


if __name__ == "__main__":
    fuzz("sgip", test_one, (PduDecodeError, FramingError))
