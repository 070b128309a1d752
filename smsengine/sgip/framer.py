"""Splitting an SGIP byte stream into PDUs, sans-I/O (sections 1 and 2 of the SGIP reference).

Feed it whatever the transport read — one byte or many PDUs at a time — and get back, in order,
decoded PDUs and :class:`InvalidPdu` events. A PDU whose Command ID this codec does not decode
(the GNS and billing-centre commands, vendor ids) is skipped by its Message Length and reported
as an event, so the stream never desynchronises (the spec lets a server drop the connection
there; a tolerant SP keeps going, 3); a malformed body becomes an event carrying the Command
ID, Sequence Number and the response to send (Submit_Resp Result 8 …).

Only a Message Length below the 20-octet header or above ``max_pdu_length`` raises
:class:`~smsengine.sgip.errors.FramingError`, carrying in ``events`` whatever that ``feed``
decoded before the bad length: the caller answers or settles those, then closes the connection.
Nothing is decoded after a framing error. The default maximum is 4096, SMSGate's read limit,
above the spec's 2 KiB (1): a frame between the two is read and its body refused as an
``InvalidPdu`` (Result 8) by the value checks, without losing the connection.

:meth:`Framer.feed_receipts` is :meth:`Framer.feed` except that a Report of ReportType 0 comes
out as a :class:`~smsengine.sgip.pdu.ReportReceipt` (its ids and State, the rest unread)
instead of a :class:`~smsengine.sgip.pdu.Report`: for a receiver that only correlates reports.

A subclass may read some Command IDs faster than the plain decoder (the fake SMG's Submit, say)
by putting a :data:`FastReader` for them in ``_readers`` (for :meth:`Framer.feed`) or
``_receipt_readers`` (for :meth:`Framer.feed_receipts`): the one loop here frames every PDU, and
hands a whole PDU with such a Command ID to its reader first.

Memory is bounded: the one receive buffer never holds more than one incomplete PDU (at most
``max_pdu_length`` octets) plus what the last ``feed`` brought. Headers and bodies are read
with ``unpack_from`` in place, and the buffer is trimmed once per ``feed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NoReturn

import msgspec

from .constants import HEADER_LENGTH, CommandId, Result
from .errors import FramingError, PduDecodeError
from .pdu import (
    HEADER,
    Buffer,
    Pdu,
    ReportReceipt,
    Response,
    decode_body,
    read_report_receipt,
)
from .sequence import SequenceNumber

__all__ = ["DEFAULT_MAX_PDU_LENGTH", "Framer", "InvalidPdu"]

#: The largest Message Length read before the connection is given up (SMSGate's 4096; 1).
DEFAULT_MAX_PDU_LENGTH: Final = 4096

_unpack_header = HEADER.unpack_from
_REPORT: Final = int(CommandId.SGIP_REPORT)

#: Reads the whole PDU ``src[pos:stop]`` (header included; its Message Length already checked)
#: faster than the plain decoder, given its header's Sequence Number parts (node_id, timestamp,
#: counter) as the loop unpacked them: returns the event to hand out (the plain path's, or an
#: object its caller reads the same), or None to let the plain path read it.
FastReader = Callable[[Buffer, int, int, int, int, int], object]


def _read_report_receipt(
    src: Buffer, pos: int, stop: int, node_id: int, timestamp: int, counter: int
) -> ReportReceipt | None:
    """:func:`~smsengine.sgip.pdu.read_report_receipt` as a :data:`FastReader`: 0.57 us a
    Report framed, against 1.03 plain (0.54 when it was inline in the loop; timeit, 128 a read,
    8 alternating runs at load 3.6-4.1, minima)."""
    return read_report_receipt(src, pos, stop)


class InvalidPdu(msgspec.Struct, frozen=True):
    """A framed PDU that could not be decoded.

    ``response`` is what the receiver should send back (None for responses, unknown commands and
    Trace); ``error`` says what was wrong.
    """

    error: PduDecodeError
    response: Response | None

    @property
    def command_id(self) -> int:
        return self.error.command_id

    @property
    def sequence_number(self) -> SequenceNumber | None:
        return self.error.sequence_number

    @property
    def status(self) -> int:
        return self.error.status


class Framer:
    """Turns received bytes into PDUs; see the module docstring."""

    __slots__ = ("_broken", "_buf", "_readers", "_receipt_readers", "max_pdu_length")

    def __init__(self, max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH) -> None:
        if max_pdu_length < HEADER_LENGTH:
            raise ValueError(
                f"max_pdu_length must be at least {HEADER_LENGTH}, got {max_pdu_length}"
            )
        self.max_pdu_length = max_pdu_length
        self._buf = bytearray()
        self._broken: FramingError | None = None
        #: Command ID -> its fast reader, for feed and for feed_receipts (see FastReader).
        self._readers: dict[int, FastReader] = {}
        self._receipt_readers: dict[int, FastReader] = {_REPORT: _read_report_receipt}

    @property
    def buffered(self) -> int:
        """Octets received but not yet part of a whole PDU."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Pdu | InvalidPdu]:
        """Add received octets; return the PDUs (and invalid-PDU events) they complete."""
        return self._feed(data, self._readers)

    def feed_receipts(
        self, data: bytes | bytearray | memoryview
    ) -> list[Pdu | InvalidPdu | ReportReceipt]:
        """:meth:`feed`, except that a Report of ReportType 0 comes out as a
        :class:`~smsengine.sgip.pdu.ReportReceipt` (its ids and State, the rest unread) rather
        than a Report: for a receiver that only correlates reports."""
        return self._feed(data, self._receipt_readers)

    def _feed(
        self, data: bytes | bytearray | memoryview, readers: dict[int, FastReader]
    ) -> list[Any]:
        if self._broken is not None:
            raise FramingError(f"stream already failed: {self._broken}")
        if isinstance(data, memoryview) and data.format != "B":
            data = data.cast("B")
        buf = self._buf
        src: bytes | bytearray | memoryview
        if buf:
            buf += data
            src = buf
        else:
            # Nothing pending: parse straight from the caller's octets, no copy.
            src = data
        out: list[Any] = []
        end = len(src)
        pos = 0
        limit = self.max_pdu_length
        while end - pos >= HEADER_LENGTH:
            length, command_id, node, time, counter = _unpack_header(src, pos)
            if length < HEADER_LENGTH or length > limit:
                self._fail(length, out)
            stop = pos + length
            if stop > end:
                break
            if readers and (read := readers.get(command_id)) is not None:
                event = read(src, pos, stop, node, time, counter)
                if event is not None:
                    out.append(event)
                    pos = stop
                    continue
            seq = SequenceNumber(node, time, counter)
            try:
                out.append(decode_body(command_id, seq, src, pos + HEADER_LENGTH, stop))
            except PduDecodeError as exc:
                out.append(InvalidPdu(exc, exc.response))
            pos = stop
        if 4 <= end - pos < HEADER_LENGTH:
            # A bad Message Length is known from four octets on; don't wait for more.
            length = int.from_bytes(src[pos : pos + 4], "big")
            if length < HEADER_LENGTH or length > limit:
                self._fail(length, out)
        if src is buf:
            del buf[:pos]
        elif pos < end:
            buf += src[pos:]
        return out

    def _fail(self, length: int, decoded: list[Pdu | InvalidPdu | ReportReceipt]) -> NoReturn:
        """Break the stream for good; ``decoded`` (this feed's events so far) go with the
        error, so that no PDU that came whole before the bad length is lost."""
        self._buf.clear()
        problem = (
            f"below the {HEADER_LENGTH}-octet header"
            if length < HEADER_LENGTH
            else f"above the maximum of {self.max_pdu_length}"
        )
        message = f"Message Length {length} is {problem}; the stream cannot be framed"
        self._broken = FramingError(message, status=Result.LENGTH_ERROR)
        raise FramingError(message, status=Result.LENGTH_ERROR, events=decoded)
