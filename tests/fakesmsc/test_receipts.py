"""Fake SMSC: delivery receipts — when they are sent, what they say (profiles, statuses, err
codes, TLVs), their delays, retries of unanswered ones, waiting for a receiver, and one receipt
per segment of a multi-part message."""

from __future__ import annotations

from collections import Counter

import pytest

from smsengine.fakesmsc import Account, Config, Delay, ReceiptConfig
from smsengine.smpp import (
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    InvalidPdu,
    MessageState,
    Pdu,
    SubmitSmResp,
    Tag,
    Tlv,
    parse_receipt,
)
from tests._support.smpp_client import SmppClient, eventually, running


def receipts(**fields: object) -> Config:
    return Config(accounts=[Account("shop", "secret")],
                  receipts=ReceiptConfig(**fields))  # type: ignore[arg-type]


async def bound(port: int, mode: str = "transceiver") -> SmppClient:
    c = await SmppClient.connect(port)
    assert (await c.bind(mode)).ok
    return c


async def submit_and_receipt(c: SmppClient, **fields: object) -> tuple[str, DeliverSm]:
    """Submit one message asking for a receipt; return its message_id and the receipt."""
    fields.setdefault("registered_delivery", 1)
    await c.send(c.submit_sm(**fields))
    resp = await c.expect(SubmitSmResp)
    assert resp.ok
    receipt = await c.expect(DeliverSm)
    await c.send(receipt.response())
    return resp.message_id, receipt


async def drain(c: SmppClient) -> list[Pdu | InvalidPdu]:
    """What the SMSC sent before answering two enquire_links, one after the other. Receipts due
    now go out at the end of the write that answers what the SMSC read with them, so by the
    second enquire_link_resp every one of them has arrived."""
    out = []
    for _ in range(2):
        await c.send(EnquireLink(sequence_number=c.next_seq()))
        while not isinstance(pdu := await c.recv(), EnquireLinkResp):
            out.append(pdu)
    return out


async def nothing_pending(c: SmppClient) -> None:
    assert await drain(c) == []


async def test_receipt_fields_standard_profile() -> None:
    async with running(receipts()) as smsc:
        c = await bound(smsc.port)
        mid, r = await submit_and_receipt(
            c, source_addr_ton=5, source_addr="SHOP", dest_addr_ton=1, dest_addr_npi=1,
            destination_addr="447700900123", short_message=b"Your login code is 402113")
        assert r.is_receipt and r.esm_class == 0x04
        # From the handset back to the sender.
        assert (r.source_addr_ton, r.source_addr_npi, r.source_addr) == (1, 1, "447700900123")
        assert (r.dest_addr_ton, r.destination_addr) == (5, "SHOP")
        text = r.short_message.decode()
        assert text.startswith(f"id:{mid} sub:001 dlvrd:001 ")
        receipt = parse_receipt(r.short_message)
        assert (receipt.id, receipt.stat, receipt.err) == (mid, "DELIVRD", "000")
        assert receipt.text == "Your login code is 4"  # the first 20 characters
        assert len(receipt.submit_date) == len(receipt.done_date) == 10
        assert receipt.submitted_at is not None and receipt.done_at is not None
        assert r.tlv(Tag.receipted_message_id) == mid
        assert r.tlv(Tag.message_state) == MessageState.DELIVERED
        await eventually(lambda: smsc.stats["receipts_answered"] == 1)
        assert smsc.stats["receipts_sent"] == 1


@pytest.mark.parametrize("registered_delivery", [0, 0x04, 0x08, 0x10])
async def test_no_receipt_unless_asked(registered_delivery: int) -> None:
    """Only bits 1-0 ask for an SMSC delivery receipt (SME acknowledgements and intermediate
    notifications are other bits)."""
    async with running(receipts()) as smsc:
        c = await bound(smsc.port)
        assert (await c.submit(registered_delivery=registered_delivery)).ok
        await nothing_pending(c)
        assert smsc.stats["receipts_sent"] == 0


async def test_receipt_on_failure_only() -> None:
    async with running(receipts(statuses={"DELIVRD": 1.0})) as smsc:
        c = await bound(smsc.port)
        assert (await c.submit(registered_delivery=2)).ok
        await nothing_pending(c)
    async with running(receipts(statuses={"UNDELIV": 1.0})) as smsc:
        c = await bound(smsc.port)
        _, r = await submit_and_receipt(c, registered_delivery=2)
        assert parse_receipt(r.short_message).stat == "UNDELIV"


async def test_receipt_on_failure_only_over_a_mix() -> None:
    cfg = receipts(statuses={"DELIVRD": 0.5, "UNDELIV": 0.5})
    cfg = Config(accounts=cfg.accounts, receipts=cfg.receipts, seed=5)
    async with running(cfg) as smsc:
        c = await bound(smsc.port)
        await c.send(*(c.submit_sm(registered_delivery=2) for _ in range(400)))
        everything = await drain(c)
        assert sum(isinstance(p, SubmitSmResp) and p.ok for p in everything) == 400
        got = [p for p in everything if isinstance(p, DeliverSm)]
        assert 140 <= len(got) <= 260
        assert {parse_receipt(r.short_message).stat for r in got} == {"UNDELIV"}


async def test_status_mix_proportions_and_err_codes() -> None:
    cfg = Config(seed=1, receipts=ReceiptConfig(
        statuses={"DELIVRD": 0.7, "UNDELIV": 0.2, "EXPIRED": 0.1},
        err_codes={"UNDELIV": "042", "EXPIRED": "fff"}))
    async with running(cfg) as smsc:
        c = await bound(smsc.port)
        await c.send(*(c.submit_sm(registered_delivery=1) for _ in range(400)))
        got = await c.collect(800)
        rs = [p for p in got if isinstance(p, DeliverSm)]
        assert len(rs) == 400
        parsed = [parse_receipt(r.short_message) for r in rs]
        counts = Counter(p.stat for p in parsed)
        assert 240 <= counts["DELIVRD"] <= 320, counts
        assert 50 <= counts["UNDELIV"] <= 110, counts
        assert 20 <= counts["EXPIRED"] <= 70, counts
        state = {"DELIVRD": MessageState.DELIVERED, "UNDELIV": MessageState.UNDELIVERABLE,
                 "EXPIRED": MessageState.EXPIRED}
        err = {"DELIVRD": "000", "UNDELIV": "042", "EXPIRED": "fff"}
        for r, p in zip(rs, parsed, strict=True):
            assert p.err == err[p.stat]
            assert p.dlvrd == ("001" if p.stat == "DELIVRD" else "000")
            assert r.tlv(Tag.message_state) == state[p.stat]


@pytest.mark.parametrize("stat", ["REJECTD", "ACCEPTD", "UNKNOWN", "DELETED"])
async def test_single_status_configs(stat: str) -> None:
    async with running(receipts(statuses={stat: 1.0})) as smsc:
        c = await bound(smsc.port)
        _, r = await submit_and_receipt(c)
        assert parse_receipt(r.short_message).stat == stat
        assert r.tlv(Tag.message_state) == MessageState[
            {"REJECTD": "REJECTED", "ACCEPTD": "ACCEPTED"}.get(stat, stat)]


async def test_receipt_tlvs_off() -> None:
    async with running(receipts(tlvs=False)) as smsc:
        c = await bound(smsc.port)
        mid, r = await submit_and_receipt(c)
        assert r.tlvs == ()
        assert parse_receipt(r.short_message).id == mid


async def test_upper_profile() -> None:
    async with running(receipts(profile="upper")) as smsc:
        c = await bound(smsc.port)
        mid, r = await submit_and_receipt(c, short_message=b"hi")
        text = r.short_message.decode()
        assert text.startswith(f"ID:{mid} SUB:001 DLVRD:001 SUBMIT DATE:")
        assert " STAT:DELIVRD ERR:000 TEXT:hi" in text
        assert parse_receipt(text).id == mid


async def test_long_dates_profile() -> None:
    async with running(receipts(profile="long_dates")) as smsc:
        c = await bound(smsc.port)
        _, r = await submit_and_receipt(c)
        receipt = parse_receipt(r.short_message)
        assert len(receipt.submit_date) == len(receipt.done_date) == 12
        assert receipt.submitted_at is not None and receipt.submitted_at.second >= 0


@pytest.mark.parametrize(("style", "to_int", "back"), [
    ("decimal", int, lambda rid: int(rid, 16)),
    ("hex", lambda mid: int(mid, 16), int),
    ("HEX", lambda mid: int(mid, 16), int),
])
async def test_other_base_profile(style: str, to_int: object, back: object) -> None:
    cfg = Config(message_id_style=style,  # type: ignore[arg-type]
                 receipts=ReceiptConfig(profile="other_base"))
    async with running(cfg) as smsc:
        c = await bound(smsc.port)
        mid, r = await submit_and_receipt(c)
        rid = parse_receipt(r.short_message).id
        assert rid != mid
        assert back(rid) == to_int(mid)  # type: ignore[operator]
        # The TLV keeps the id as submit_sm_resp gave it.
        assert r.tlv(Tag.receipted_message_id) == mid


async def test_fixed_receipt_delay() -> None:
    async with running(receipts(delay=Delay("fixed", value=0.3))) as smsc:
        c = await bound(smsc.port)
        assert (await c.submit(registered_delivery=1)).ok
        with pytest.raises(TimeoutError):
            await c.recv(timeout=0.2)
        r = await c.expect(DeliverSm)
        receipt = parse_receipt(r.short_message)
        assert receipt.done_at is not None and receipt.submitted_at is not None
        assert receipt.done_at >= receipt.submitted_at


async def test_random_receipt_delay_delivers_every_receipt() -> None:
    cfg = Config(seed=2, receipts=ReceiptConfig(delay=Delay("uniform", low=0.01, high=0.3)))
    async with running(cfg) as smsc:
        c = await bound(smsc.port)
        await c.send(*(c.submit_sm(registered_delivery=1) for _ in range(30)))
        got_all = await c.collect(60)
        ids = [p.message_id for p in got_all if isinstance(p, SubmitSmResp)]
        rs = [p for p in got_all if isinstance(p, DeliverSm)]
        got = [r.tlv(Tag.receipted_message_id) for r in rs]
        assert sorted(got) == sorted(ids)
        assert got != ids  # random delays: not in submission order


async def test_unanswered_receipt_is_retried_with_the_same_id() -> None:
    async with running(receipts(retry_after=0.3, max_attempts=3)) as smsc:
        c = await bound(smsc.port)
        assert (await c.submit(registered_delivery=1)).ok
        first = await c.expect(DeliverSm)  # not answered
        second = await c.expect(DeliverSm, timeout=2.0)
        assert second.sequence_number != first.sequence_number
        assert parse_receipt(second.short_message).id == parse_receipt(first.short_message).id
        await c.send(second.response())
        await eventually(lambda: smsc.stats["receipts_answered"] == 1)
        assert smsc.stats["receipts_retried"] == 1
        # Answered: it does not come a third time (waiting past another retry_after).
        with pytest.raises(TimeoutError):
            await c.recv(timeout=0.7)


async def test_receipt_dropped_after_max_attempts() -> None:
    async with running(receipts(retry_after=0.2, max_attempts=2)) as smsc:
        c = await bound(smsc.port)
        assert (await c.submit(registered_delivery=1)).ok
        a = await c.expect(DeliverSm)
        b = await c.expect(DeliverSm, timeout=2.0)
        assert a.tlv(Tag.receipted_message_id) == b.tlv(Tag.receipted_message_id)
        await eventually(lambda: smsc.stats["receipts_dropped"] == 1)
        assert smsc.stats["receipts_sent"] == 2
        with pytest.raises(TimeoutError):
            await c.recv(timeout=0.5)


async def test_receipts_wait_for_a_receiver_bind() -> None:
    async with running(receipts()) as smsc:
        tx = await bound(smsc.port, "transmitter")
        ids = [(await tx.submit(registered_delivery=1)).message_id  # type: ignore[attr-defined]
               for _ in range(3)]
        await nothing_pending(tx)
        assert smsc.stats["receipts_sent"] == 0
        rx = await bound(smsc.port, "receiver")
        rs = await rx.expect_many(DeliverSm, 3)
        assert [r.tlv(Tag.receipted_message_id) for r in rs] == ids
        await nothing_pending(tx)  # still nothing on the transmitter


async def test_receipts_go_to_the_accounts_own_receivers() -> None:
    cfg = Config(accounts=[Account("shop", "secret"), Account("other", "pw")])
    async with running(cfg) as smsc:
        other = await SmppClient.connect(smsc.port)
        assert (await other.bind("receiver", "other", "pw")).ok
        c = await bound(smsc.port)
        await submit_and_receipt(c)
        await nothing_pending(other)


async def test_receipt_unanswered_on_a_dropped_bind_goes_to_the_next_bind() -> None:
    async with running(receipts()) as smsc:
        c = await bound(smsc.port)
        assert (await c.submit(registered_delivery=1)).ok
        first = await c.expect(DeliverSm)
        await c.close()
        again = await bound(smsc.port, "receiver")
        second = await again.expect(DeliverSm)
        assert second.tlv(Tag.receipted_message_id) == first.tlv(Tag.receipted_message_id)


async def test_multi_segment_message_gets_a_receipt_per_segment() -> None:
    async with running(receipts()) as smsc:
        c = await bound(smsc.port)
        parts = [bytes((5, 0, 3, 0x2A, 3, n)) + f"part {n} ".encode() * 10 for n in (1, 2, 3)]
        await c.send(*(c.submit_sm(esm_class=0x40, registered_delivery=1, short_message=p)
                       for p in parts))
        got = await c.collect(6)
        ids = [p.message_id for p in got if isinstance(p, SubmitSmResp)]
        rs = [p for p in got if isinstance(p, DeliverSm)]
        assert len(ids) == len(set(ids)) == 3
        assert sorted(parse_receipt(r.short_message).id for r in rs) == sorted(ids)
        assert all(parse_receipt(r.short_message).text == "" for r in rs)  # no UDH in text
        segments = {e.message_id: e.segment for e in smsc.ledger}
        assert [segments[m] for m in ids] == [(0x2A, 3, 1), (0x2A, 3, 2), (0x2A, 3, 3)]


async def test_segments_from_16_bit_udh_and_sar_tlvs() -> None:
    async with running(receipts()) as smsc:
        c = await bound(smsc.port)
        udh16 = bytes((6, 8, 4, 0x01, 0x02, 2, 1)) + b"x"
        sar = (Tlv(Tag.sar_msg_ref_num, 300), Tlv(Tag.sar_total_segments, 2),
               Tlv(Tag.sar_segment_seqnum, 2))
        assert (await c.submit(esm_class=0x40, short_message=udh16)).ok
        assert (await c.submit(short_message=b"y", tlvs=sar)).ok
        assert [e.segment for e in smsc.ledger] == [(0x0102, 2, 1), (300, 2, 2)]


async def test_max_pending_receipts_drops_and_counts() -> None:
    cfg = receipts(max_pending=2)
    async with running(cfg) as smsc:
        tx = await bound(smsc.port, "transmitter")
        for _ in range(3):
            assert (await tx.submit(registered_delivery=1)).ok
        assert smsc.stats["receipts_dropped"] == 1
        rx = await bound(smsc.port, "receiver")
        await rx.expect_many(DeliverSm, 2)
        await nothing_pending(rx)


async def test_receipts_waiting_for_a_receiver_are_parked() -> None:
    """Receipts waiting for a receiver bind are parked per account, not rescanned on every
    read (which made a transmitter-only run quadratic); they all arrive once a receiver binds."""
    async with running(receipts()) as smsc:
        tx = await bound(smsc.port, "transmitter")
        for _ in range(30):
            await tx.send(*(tx.submit_sm(registered_delivery=1) for _ in range(100)))
            await tx.expect_many(SubmitSmResp, 100)
        assert len(smsc._ready) == 0
        rx = await bound(smsc.port, "receiver")
        got = await rx.collect(3000, timeout=10)
        assert len({r.tlv(Tag.receipted_message_id) for r in got  # type: ignore[union-attr]
                    }) == 3000
