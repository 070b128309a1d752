"""The fake SMSC's ledger: every message it accepted, for reconciling a run message by message.

The SMPP SMSC and the CMPP ISMG share it: a CMPP_SUBMIT's entry has the canonical decimal
Msg_Id as ``message_id``, Src_Id as ``source_addr``, Msg_Fmt as ``data_coding``, TP_udhi as
``esm_class`` 0x40 and its segment from the UDH or, without one, from Pk_total / Pk_number.

Appending is on the hot path, so an entry is stored as a small tuple holding the accepted PDU;
:class:`LedgerEntry` values (with segment info and a payload digest) are made only when someone
reads the ledger.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from ..cmpp import Submit as CmppSubmit
from ..sgip import Submit as SgipSubmit
from ..smgp import Submit as SmgpSubmit
from ..smpp import DataSm, Pdu, SubmitMulti, SubmitSm, Tag

__all__ = ["Ledger", "LedgerEntry", "message_id_factory", "other_base"]


class LedgerEntry(msgspec.Struct, frozen=True):
    """One accepted message (a submit_multi gives one entry per destination)."""

    time: float  # wall-clock seconds since the epoch
    account: str
    bind_id: int
    sequence_number: int
    message_id: str
    command: str
    source_addr: str
    destination_addr: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    segment: tuple[int, int, int] | None  # (reference, total, seqnum) of a multi-part message
    payload_length: int
    payload_digest: str  # sha256 of the user data (UDH included), first 16 hex digits


def _udh_segment(payload: bytes) -> tuple[int, int, int] | None:
    if payload:
        udhl = payload[0]
        i, end = 1, 1 + udhl
        while i + 2 <= end and end <= len(payload):
            iei, length = payload[i], payload[i + 1]
            data = payload[i + 2 : i + 2 + length]
            if iei == 0x00 and length == 3 and len(data) == 3:
                return data[0], data[1], data[2]
            if iei == 0x08 and length == 4 and len(data) == 4:
                return (data[0] << 8) | data[1], data[2], data[3]
            i += 2 + length
    return None


def _segment(pdu: SubmitSm | SubmitMulti | DataSm, payload: bytes) -> tuple[int, int, int] | None:
    if pdu.esm_class & 0x40 and payload:
        return _udh_segment(payload)
    ref = pdu.tlv(Tag.sar_msg_ref_num)
    if ref is not None:
        return ref, pdu.tlv(Tag.sar_total_segments, 0), pdu.tlv(Tag.sar_segment_seqnum, 0)
    return None


class Ledger:
    """Bounded: beyond ``limit`` entries the oldest go and ``dropped`` counts them."""

    def __init__(self, limit: int) -> None:
        self._rows: deque[tuple[float, str, int, int, str, str, Any]] = deque(
            maxlen=limit)
        self.limit = limit
        self.appended = 0

    def append(
        self, when: float, account: str, bind_id: int, mid: str, destination: str, pdu: Pdu
    ) -> None:
        self._rows.append((when, account, bind_id, pdu.sequence_number, mid, destination, pdu))
        self.appended += 1

    def append_cmpp(
        self, when: float, account: str, bind_id: int, mid: str, destination: str,
        pdu: CmppSubmit,
    ) -> None:
        self._rows.append((when, account, bind_id, pdu.sequence_id, mid, destination, pdu))
        self.appended += 1

    def append_smgp(
        self, when: float, account: str, bind_id: int, mid: str, destination: str,
        pdu: SmgpSubmit,
    ) -> None:
        self._rows.append((when, account, bind_id, pdu.sequence_id, mid, destination, pdu))
        self.appended += 1

    @property
    def dropped(self) -> int:
        return self.appended - len(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[LedgerEntry]:
        for row in list(self._rows):
            yield self._entry(row)

    def entries(self, **match: Any) -> list[LedgerEntry]:
        """Entries whose fields equal the given values, e.g. ``entries(account="shop")``."""
        return [e for e in self if all(getattr(e, k) == v for k, v in match.items())]

    def message_ids(self) -> list[str]:
        return [row[4] for row in self._rows]

    def clear(self) -> None:
        self._rows.clear()
        self.appended = 0

    def dump_jsonl(self, out: IO[str]) -> int:
        """Write one JSON object per line; returns how many."""
        n = 0
        for entry in self:
            out.write(json.dumps(msgspec.to_builtins(entry)) + "\n")
            n += 1
        return n

    @staticmethod
    def _entry(row: tuple[float, str, int, int, str, str, Any]) -> LedgerEntry:
        when, account, bind_id, seq, mid, destination, pdu = row
        decoded = getattr(pdu, "decoded", None)  # (a Submit the fake SMG kept undecoded)
        if decoded is not None:
            pdu = decoded()
        if isinstance(pdu, CmppSubmit):
            return _cmpp_entry(when, account, bind_id, seq, mid, destination, pdu)
        if isinstance(pdu, SgipSubmit):
            return _sgip_entry(when, account, bind_id, mid, destination, pdu)
        if isinstance(pdu, SmgpSubmit):
            return _smgp_entry(when, account, bind_id, seq, mid, destination, pdu)
        assert isinstance(pdu, (SubmitSm, SubmitMulti, DataSm))
        payload = pdu.message
        return LedgerEntry(
            time=when,
            account=account,
            bind_id=bind_id,
            sequence_number=seq,
            message_id=mid,
            command=pdu.command_name,
            source_addr=pdu.source_addr,
            destination_addr=destination,
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            registered_delivery=pdu.registered_delivery,
            segment=_segment(pdu, payload),
            payload_length=len(payload),
            payload_digest=hashlib.sha256(payload).hexdigest()[:16],
        )


def _cmpp_entry(when: float, account: str, bind_id: int, seq: int, mid: str, destination: str,
                pdu: CmppSubmit) -> LedgerEntry:
    payload = pdu.msg_content
    segment = _udh_segment(payload) if pdu.tp_udhi & 1 else None
    if segment is None and pdu.pk_total > 1:
        segment = (0, pdu.pk_total, pdu.pk_number)
    return LedgerEntry(
        time=when,
        account=account,
        bind_id=bind_id,
        sequence_number=seq,
        message_id=mid,
        command="CMPP_SUBMIT",
        source_addr=pdu.src_id,
        destination_addr=destination,
        data_coding=pdu.msg_fmt,
        esm_class=0x40 if pdu.tp_udhi & 1 else 0,
        registered_delivery=pdu.registered_delivery,
        segment=segment,
        payload_length=len(payload),
        payload_digest=hashlib.sha256(payload).hexdigest()[:16],
    )


def _smgp_entry(when: float, account: str, bind_id: int, seq: int, mid: str, destination: str,
                pdu: SmgpSubmit) -> LedgerEntry:
    payload = pdu.msg_content
    segment = _udh_segment(payload) if pdu.tp_udhi else None
    if segment is None and (pdu.pk_total or 0) > 1:
        segment = (0, pdu.pk_total or 0, pdu.pk_number or 0)
    return LedgerEntry(
        time=when, account=account, bind_id=bind_id, sequence_number=seq, message_id=mid,
        command="SMGP_SUBMIT", source_addr=pdu.src_term_id, destination_addr=destination,
        data_coding=pdu.msg_format, esm_class=0x40 if pdu.tp_udhi else 0,
        registered_delivery=pdu.need_report, segment=segment, payload_length=len(payload),
        payload_digest=hashlib.sha256(payload).hexdigest()[:16],
    )


def _sgip_entry(when: float, account: str, bind_id: int, mid: str, destination: str,
                pdu: SgipSubmit) -> LedgerEntry:
    """A Submit's entry: its Sequence Number is the message id (its counter the
    ``sequence_number``), MessageCoding the ``data_coding``, ReportFlag 1 or 3
    ``registered_delivery`` 1 (0: failures only, 2: none)."""
    payload = pdu.message_content
    return LedgerEntry(
        time=when, account=account, bind_id=bind_id, sequence_number=pdu.sequence_number.counter,
        message_id=mid, command="SGIP_SUBMIT", source_addr=pdu.sp_number,
        destination_addr=destination, data_coding=pdu.message_coding,
        esm_class=0x40 if pdu.tp_udhi & 1 else 0,
        registered_delivery=1 if pdu.report_flag in (1, 3) else 0,
        segment=_udh_segment(payload) if pdu.tp_udhi & 1 else None,
        payload_length=len(payload), payload_digest=hashlib.sha256(payload).hexdigest()[:16],
    )


def message_id_factory(style: str, start: int) -> Iterator[str]:
    """Message ids in a carrier's style: decimal, hex (lower/upper) or UUID-like."""
    n = start
    if style == "decimal":
        while True:
            n += 1
            yield str(n)
    elif style == "hex":
        while True:
            n += 1
            yield f"{n:x}"
    elif style == "HEX":
        while True:
            n += 1
            yield f"{n:X}"
    else:
        while True:
            n += 1
            h = f"{n:032x}"
            yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def other_base(message_id: str, style: str) -> str:
    """The same id written in the other base, as some SMSCs do in receipt text."""
    if style == "decimal":
        return f"{int(message_id):x}"
    if style in ("hex", "HEX"):
        return str(int(message_id, 16))
    return message_id
