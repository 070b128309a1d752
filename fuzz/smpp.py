"""Fuzz target ``smpp``: the SMPP framer and decoders (smsengine.smpp).

Each input is a byte stream as a peer might send it. It goes through:

- ``decode_pdu`` (one whole PDU); and the body under the header's command_id through both the
  checked decoder (the framer's) and the validating one: the same PDU with the same field
  types, or the same status and field refused (as tests/smpp/test_checked_decode.py);
- ``Framer.feed`` whole, and again in pieces (1 to 29 octets, from the input's length): the
  same events either way; ``Framer.feed_receipts`` whole;
- every decoded PDU's repr and properties, and an InvalidPdu's response.

Documented errors: PduDecodeError (a PDU that does not decode; the framer turns it into an
InvalidPdu event) and FramingError (command_length out of bounds). Anything else is a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import atheris
from _common import frame, fuzz, same_events, touch

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine.smpp import (
        Framer,
        FramingError,
        InvalidPdu,
        PduDecodeError,
        decode_pdu,
    )
    from smsengine.smpp.pdu import _DECODERS, _SLOW_DECODERS


def _outcome(decoder: Callable[[bytes, int, int], Any], body: bytes, seq: int,
             status: int) -> object:
    """As tests/smpp/test_checked_decode.py compares them."""
    try:
        pdu = decoder(body, seq, status)
    except PduDecodeError as exc:
        return ("error", exc.status, exc.field, exc.command_id)
    types = [type(getattr(pdu, name)) for name in pdu.__struct_fields__]
    types += [(type(t.tag), type(t.value)) for t in pdu.tlvs]
    return pdu, types


def test_one(data: bytes) -> None:
    try:
        touch(decode_pdu(data))
    except PduDecodeError as exc:
        if exc.response is not None:
            touch(exc.response)
    if len(data) >= 16:
        # The checked decoder (the framer's) against the validating one, on the same body:
        # the same PDU with the same field types, or the same status and field refused.
        command_id = int.from_bytes(data[4:8], "big")
        status = int.from_bytes(data[8:12], "big")
        seq = int.from_bytes(data[12:16], "big")
        if command_id in _DECODERS:
            body = data[16:]
            fast = _outcome(_DECODERS[command_id], body, seq, status)
            slow = _outcome(_SLOW_DECODERS[command_id], body, seq, status)
            if fast != slow:
                raise AssertionError(f"checked and validating decoders disagree:\n"
                                     f" checked:    {fast!r}\n validating: {slow!r}")

    events = frame(Framer, data, len(data) or 1, FramingError)
    for event in events:
        if isinstance(event, InvalidPdu):
            touch(event.response)
        elif not isinstance(event, (int, tuple)):
            touch(event)
    pieces = frame(Framer, data, 1 + len(data) % 29, FramingError)
    same_events(events, pieces)

    framer = Framer()
    try:
        for event in framer.feed_receipts(data):
            touch(event)
    except FramingError:
        pass


if __name__ == "__main__":
    fuzz("smpp", test_one, (PduDecodeError, FramingError))
