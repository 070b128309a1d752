"""Fake SMSC: mobile-originated messages injected with ``inject_mo`` — single and multi-part,
GSM and UCS2 text, binary data, opt-out replies, which bind gets them, what the result says."""

from __future__ import annotations

import asyncio

import pytest

from smsengine.fakesmsc import Account, Config, FakeSMSC, MoResult, ReceiptConfig
from smsengine.smpp import CommandStatus, DeliverSm, InvalidPduError
from tests._support.smpp_client import SmppClient, eventually, running


async def receiver(smsc: FakeSMSC, system_id: str = "shop", mode: str = "receiver"
                   ) -> SmppClient:
    c = await SmppClient.connect(smsc.port)
    assert (await c.bind(mode, system_id, "pw")).ok
    return c


async def mo_parts(smsc: FakeSMSC, c: SmppClient, count: int, *args: object,
                   **kwargs: object) -> tuple[list[DeliverSm], MoResult]:
    """Inject an MO message while the client answers it; return the parts and the result."""
    task = asyncio.ensure_future(smsc.inject_mo(*args, **kwargs))  # type: ignore[arg-type]
    parts = [p for p in await c.collect(count) if isinstance(p, DeliverSm)]
    assert len(parts) == count
    result = await task
    return parts, result


def reassemble(parts: list[DeliverSm]) -> bytes:
    """Payloads in UDH order, each after its 6-octet concatenation header (05 00 03 ref n i)."""
    refs = {p.short_message[3] for p in parts}
    assert len(refs) == 1
    for p in parts:
        assert p.esm_class & 0x40
        assert p.short_message[:3] == b"\x05\x00\x03"
        assert p.short_message[4] == len(parts)
    ordered = sorted(parts, key=lambda p: p.short_message[5])
    assert [p.short_message[5] for p in ordered] == list(range(1, len(parts) + 1))
    return b"".join(p.short_message[6:] for p in ordered)


async def test_single_part_mo(smsc: FakeSMSC) -> None:
    c = await receiver(smsc)
    [part], result = await mo_parts(smsc, c, 1, "447700900123", "SHOP", "Hello there")
    assert (part.source_addr, part.destination_addr) == ("447700900123", "SHOP")
    assert (part.esm_class, part.data_coding) == (0, 0)
    assert part.short_message == b"Hello there"
    assert not part.is_receipt
    assert result.parts == 1 and result.statuses == [0] and result.ok
    assert smsc.stats["mo_sent"] == 1
    assert smsc.stats["receipts_answered"] == 0  # an MO answer is not a receipt's


async def test_long_gsm_mo_is_split_with_udh(smsc: FakeSMSC) -> None:
    text = "".join(f"{n:04d} " for n in range(80))  # 400 characters
    c = await receiver(smsc, mode="transceiver")
    parts, result = await mo_parts(smsc, c, 3, "447700900123", "SHOP", text)
    assert all(p.data_coding == 0 for p in parts)
    assert all(len(p.short_message) <= 159 for p in parts)
    assert reassemble(parts).decode("ascii") == text
    assert result.ok and result.parts == 3


async def test_long_ucs2_mo_is_split_with_udh(smsc: FakeSMSC) -> None:
    # 134 octets a part: the first cut would fall inside the first emoji's surrogate pair.
    text = "你" * 65 + "🙂" * 40
    c = await receiver(smsc)
    parts, result = await mo_parts(smsc, c, 3, "8613800138000", "10690000", text)
    assert {p.data_coding for p in parts} == {8}
    assert reassemble(parts).decode("utf-16-be") == text
    for p in parts:  # no part ends in the middle of a surrogate pair
        assert not 0xD8 <= p.short_message[-2] <= 0xDB
    assert result.ok


@pytest.mark.parametrize(("text", "coding", "octets"), [
    ("T", 0, b"T"),
    ("TD", 0, b"TD"),
    ("退订", 8, "退订".encode("utf-16-be")),
])
async def test_opt_out_replies(text: str, coding: int, octets: bytes, smsc: FakeSMSC) -> None:
    c = await receiver(smsc)
    [part], result = await mo_parts(smsc, c, 1, "8613800138000", "10690000", text)
    assert (part.data_coding, part.short_message) == (coding, octets)
    assert result.ok


async def test_binary_mo(smsc: FakeSMSC) -> None:
    c = await receiver(smsc)
    [part], _ = await mo_parts(smsc, c, 1, "123", "456", data=b"\x00\x01\xff")
    assert (part.data_coding, part.short_message) == (4, b"\x00\x01\xff")
    [part], _ = await mo_parts(smsc, c, 1, "123", "456", data=b"ab", data_coding=3)
    assert part.data_coding == 3


async def test_mo_goes_to_the_named_account() -> None:
    cfg = Config(accounts=[Account("shop", "pw"), Account("other", "pw")])
    async with running(cfg) as smsc:
        shop = await receiver(smsc, "shop")
        other = await receiver(smsc, "other")
        [part], _ = await mo_parts(smsc, other, 1, "1", "2", "for other", account="other")
        assert part.short_message == b"for other"
        with pytest.raises(TimeoutError):
            await shop.recv(timeout=0.2)


async def test_mo_reports_error_statuses_and_no_answer() -> None:
    async with running(Config(receipts=ReceiptConfig(retry_after=5))) as smsc:
        c = await receiver(smsc)
        task = asyncio.ensure_future(smsc.inject_mo("1", "2", "hi"))
        part = await c.expect(DeliverSm)
        await c.send(part.response(CommandStatus.ESME_RX_T_APPN))
        result = await task
        assert result.statuses == [CommandStatus.ESME_RX_T_APPN] and not result.ok
        # Nobody answers: the result comes back at the timeout, incomplete.
        result = await smsc.inject_mo("1", "2", "hi", timeout=0.2)
        assert result.parts == 1 and result.statuses == [] and not result.ok
        assert isinstance(await c.recv(), DeliverSm)


async def test_unanswered_mo_is_dropped_after_max_attempts() -> None:
    cfg = Config(receipts=ReceiptConfig(retry_after=0.2, max_attempts=2))
    async with running(cfg) as smsc:
        c = await receiver(smsc)
        result = await smsc.inject_mo("1", "2", "hi", timeout=2.0)
        assert result.statuses == [-1]
        assert len(await c.expect_many(DeliverSm, 2)) == 2
        assert smsc.stats["receipts_dropped"] == 1


async def test_mo_needs_a_receiver(smsc: FakeSMSC) -> None:
    with pytest.raises(RuntimeError):
        await smsc.inject_mo("1", "2", "hi")
    tx = await SmppClient.connect(smsc.port)
    assert (await tx.bind("transmitter")).ok
    with pytest.raises(RuntimeError):
        await smsc.inject_mo("1", "2", "hi")
    await receiver(smsc, "x")
    with pytest.raises(RuntimeError):
        await smsc.inject_mo("1", "2", "hi", account="nobody")


async def test_mo_argument_errors_leave_the_smsc_working() -> None:
    async with running(Config(receipts=ReceiptConfig(retry_after=0.2))) as smsc:
        c = await receiver(smsc)
        with pytest.raises(ValueError):
            await smsc.inject_mo("1", "2")
        with pytest.raises(ValueError):
            await smsc.inject_mo("1", "2", "text", data=b"data")
        with pytest.raises(InvalidPduError):
            await smsc.inject_mo("1" * 30, "2", "source_addr too long")
        with pytest.raises(InvalidPduError):
            await smsc.inject_mo("1", "2", data=b"x" * 300)
        assert smsc.stats["mo_sent"] == 0
        # The housekeeping task (retries) is alive: an unanswered MO comes again.
        task = asyncio.ensure_future(smsc.inject_mo("1", "2", "again", timeout=3))
        first = await c.expect(DeliverSm)
        second = await c.expect(DeliverSm)
        assert first.short_message == second.short_message == b"again"
        await c.send(second.response())
        assert (await task).ok
        await eventually(lambda: smsc.stats["mo_sent"] == 2)
