"""Splitting a CMPP byte stream into PDUs, sans-I/O (section 2 of the CMPP reference).

Feed it whatever the transport read — one byte or many PDUs at a time — and get back, in order,
decoded PDUs and :class:`InvalidPdu` events. A PDU whose Command_Id this codec does not handle
(CMPP_FWD, the route messages, vendor ids) is skipped by its Total_Length and reported as an
event, so the stream never desynchronises; a malformed body becomes an event carrying the
Command_Id, Sequence_Id and the response to send (SUBMIT_RESP / DELIVER_RESP Result 1 …).
Only a Total_Length below 12 or above ``max_total_length`` raises
:class:`~smsengine.cmpp.errors.FramingError`, carrying in ``events`` whatever that ``feed``
decoded before the bad length: the caller answers or settles those, then closes the connection.
Nothing is decoded after a framing error.

``version`` chooses the 2.0 or 3.0 body layouts and may be changed between feeds (e.g. once
CONNECT_RESP has told which version the gateway speaks).

Memory is bounded: the buffer never holds more than one incomplete PDU (at most
``max_total_length`` octets) plus what the last ``feed`` brought.
"""

from __future__ import annotations

from typing import Final, NoReturn, cast

import msgspec

from .constants import SubmitResult, Version
from .errors import FramingError, PduDecodeError
from .pdu import HEADER, Pdu, Response, decode_body

__all__ = ["DEFAULT_MAX_TOTAL_LENGTH", "Framer", "InvalidPdu"]

#: Above the largest legal PDU (a 3.0 SUBMIT to 100 numbers with 255 octets: 3618) and above
#: gocmpp's read limits (2477 for 2.0, 3335 for 3.0).
DEFAULT_MAX_TOTAL_LENGTH: Final = 4096

_unpack_header = HEADER.unpack_from


class InvalidPdu(msgspec.Struct, frozen=True):
    """A framed PDU that could not be decoded.

    ``response`` is what the receiver should send back (None for responses, unknown commands and
    QUERY); ``error`` says what was wrong.
    """

    error: PduDecodeError
    response: Response | None

    @property
    def command_id(self) -> int:
        return self.error.command_id

    @property
    def sequence_id(self) -> int:
        return self.error.sequence_id

    @property
    def status(self) -> int:
        return self.error.status


class Framer:
    """Turns received bytes into PDUs; see the module docstring."""

    __slots__ = ("_broken", "_buf", "max_total_length", "version")

    def __init__(
        self, version: int = Version.V30, max_total_length: int = DEFAULT_MAX_TOTAL_LENGTH
    ) -> None:
        if max_total_length < 12:
            raise ValueError(f"max_total_length must be at least 12, got {max_total_length}")
        self.version = version
        self.max_total_length = max_total_length
        self._buf = bytearray()
        self._broken: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet part of a whole PDU."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Pdu | InvalidPdu]:
        """Add received octets; return the PDUs (and invalid-PDU events) they complete."""
        if self._broken is not None:
            raise FramingError(f"stream already failed: {self._broken}")
        buf = self._buf
        if buf:
            buf += data
            src: bytes | bytearray = buf
        else:
            # Nothing pending: parse straight from the caller's bytes, no copy.
            src = data if isinstance(data, bytes) else bytes(data)
        out: list[Pdu | InvalidPdu] = []
        end = len(src)
        pos = 0
        limit = self.max_total_length
        version = self.version
        while end - pos >= 12:
            length, command_id, seq = _unpack_header(src, pos)
            if length < 12 or length > limit:
                self._fail(length, out)
            stop = pos + length
            if stop > end:
                break
            body = bytes(src[pos + 12 : stop]) if src is buf else cast(bytes, src[pos + 12 : stop])
            pos = stop
            try:
                out.append(decode_body(command_id, seq, body, version))
            except PduDecodeError as exc:
                out.append(InvalidPdu(exc, exc.response))
        if 4 <= end - pos < 12:
            # A bad Total_Length is known from four octets on; don't wait for more.
            length = int.from_bytes(src[pos : pos + 4], "big")
            if length < 12 or length > limit:
                self._fail(length, out)
        if src is buf:
            del buf[:pos]
        elif pos < end:
            buf += src[pos:]
        return out

    def _fail(self, length: int, decoded: list[Pdu | InvalidPdu]) -> NoReturn:
        """Break the stream for good; ``decoded`` (this feed's events so far) go with the
        error, so that no PDU that came whole before the bad length is lost."""
        self._buf.clear()
        problem = (
            "below the minimum of 12"
            if length < 12
            else f"above the maximum of {self.max_total_length}"
        )
        message = f"Total_Length {length} is {problem}; the stream cannot be framed"
        self._broken = FramingError(message, status=SubmitResult.MESSAGE_LENGTH_ERROR)
        raise FramingError(message, status=SubmitResult.MESSAGE_LENGTH_ERROR, events=decoded)
