"""Fake SMSC: accepting messages (submit_sm, submit_multi, data_sm), message_id styles, TPS
throttling, the window against delayed responses, the latency models, injected errors, the
ledger, query_sm / cancel_sm / replace_sm."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections import Counter

import pytest

from smsengine.fakesmsc import Account, Config, Delay, FakeSMSC, ReceiptConfig
from smsengine.smpp import (
    CancelSm,
    CancelSmResp,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    MessageState,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSmResp,
    Tag,
    Tlv,
    parse_receipt,
)
from tests._support.smpp_client import SmppClient, running

S = CommandStatus


def shop(**fields: object) -> Account:
    return Account("shop", "secret", **fields)  # type: ignore[arg-type]


async def bound(smsc: FakeSMSC, mode: str = "transceiver") -> SmppClient:
    c = await SmppClient.connect(smsc.port)
    assert (await c.bind(mode)).ok
    return c


async def test_submit_sm_is_answered_and_ledgered() -> None:
    async with running(Config(accounts=[shop()])) as smsc:
        c = await bound(smsc)
        pdu = c.submit_sm(source_addr="SHOP", destination_addr="447700900123",
                          data_coding=0, short_message=b"Your code is 402113")
        resp = await c.request(pdu)
        assert isinstance(resp, SubmitSmResp) and resp.ok and resp.message_id
        [entry] = smsc.ledger.entries()
        assert entry.account == "shop"
        assert entry.bind_id == smsc.binds[0].bind_id
        assert entry.sequence_number == pdu.sequence_number
        assert entry.message_id == resp.message_id
        assert entry.command == "submit_sm"
        assert (entry.source_addr, entry.destination_addr) == ("SHOP", "447700900123")
        assert entry.segment is None
        assert entry.payload_length == 19
        assert len(entry.payload_digest) == 16
        assert entry.registered_delivery == 0


@pytest.mark.parametrize(
    ("style", "pattern"),
    [
        ("decimal", r"[1-9][0-9]*"),
        ("hex", r"[0-9a-f]+"),
        ("HEX", r"[0-9A-F]+"),
        ("uuid", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}"),
    ],
)
async def test_message_id_styles(style: str, pattern: str) -> None:
    async with running(Config(message_id_style=style)) as smsc:  # type: ignore[arg-type]
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(20)))
        ids = [r.message_id for r in await c.expect_many(SubmitSmResp, 20)]
        assert len(set(ids)) == 20
        for mid in ids:
            assert re.fullmatch(pattern, mid), mid
        assert smsc.ledger.message_ids() == ids


async def test_seed_makes_message_ids_reproducible() -> None:
    firsts = []
    for _ in range(2):
        async with running(Config(seed=7, message_id_style="decimal")) as smsc:
            c = await bound(smsc)
            firsts.append((await c.submit()).message_id)  # type: ignore[attr-defined]
    assert firsts[0] == firsts[1]


@pytest.mark.parametrize("throttle_status", ["ESME_RTHROTTLED", "ESME_RMSGQFUL"])
async def test_tps_limit_throttles_beyond_the_burst(throttle_status: str) -> None:
    cfg = Config(accounts=[shop(tps=5, throttle_status=throttle_status)])
    async with running(cfg) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(10)))
        statuses = [r.command_status for r in await c.expect_many(SubmitSmResp, 10)]
        assert statuses == [0] * 5 + [S[throttle_status]] * 5
        assert len(smsc.ledger) == 5
        assert smsc.stats["throttled"] == 5
        # Tokens come back at 5 per second: a later submit is accepted again.
        deadline = asyncio.get_running_loop().time() + 2.0
        while not (await c.submit()).ok:
            assert asyncio.get_running_loop().time() < deadline, "never accepted again"
            await asyncio.sleep(0.05)
        assert len(smsc.ledger) == 6


async def test_tps_is_counted_per_account_across_binds() -> None:
    cfg = Config(accounts=[shop(tps=4), Account("other", "pw")])
    async with running(cfg) as smsc:
        a, b = await bound(smsc), await bound(smsc)
        await a.send(*(a.submit_sm() for _ in range(3)))
        await b.send(*(b.submit_sm() for _ in range(3)))
        statuses = [r.command_status for r in await a.expect_many(SubmitSmResp, 3)]
        statuses += [r.command_status for r in await b.expect_many(SubmitSmResp, 3)]
        assert statuses.count(0) == 4
        # Another account has its own (unlimited) allowance.
        o = await SmppClient.connect(smsc.port)
        assert (await o.bind("transmitter", "other", "pw")).ok
        await o.send(*(o.submit_sm() for _ in range(10)))
        assert all(r.ok for r in await o.expect_many(SubmitSmResp, 10))


async def test_window_counts_delayed_responses() -> None:
    cfg = Config(accounts=[shop(window=3)], latency=Delay("fixed", value=0.3))
    async with running(cfg) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(5)))
        # Latency: nothing is answered at once.
        with pytest.raises(TimeoutError):
            await c.recv(timeout=0.15)
        resps = await c.expect_many(SubmitSmResp, 5)
        by_seq = {r.sequence_number: r.command_status for r in resps}
        assert [by_seq[s] for s in sorted(by_seq)] == [0, 0, 0, S.ESME_RTHROTTLED,
                                                       S.ESME_RTHROTTLED]
        # The window is free again once the responses went out.
        await c.send(*(c.submit_sm() for _ in range(3)))
        assert all(r.ok for r in await c.expect_many(SubmitSmResp, 3))
        assert len(smsc.ledger) == 6


async def test_no_window_without_latency() -> None:
    async with running(Config(accounts=[shop(window=2)])) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(10)))
        assert all(r.ok for r in await c.expect_many(SubmitSmResp, 10))


async def test_uniform_latency_delays_every_response() -> None:
    cfg = Config(latency=Delay("uniform", low=0.2, high=0.3))
    async with running(cfg) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(10)))
        with pytest.raises(TimeoutError):
            await c.recv(timeout=0.15)
        resps = await c.expect_many(SubmitSmResp, 10)
        assert all(r.ok for r in resps)


async def test_lognormal_latency_reorders_responses() -> None:
    cfg = Config(latency=Delay("lognormal", median=0.05, sigma=1.0, high=0.4), seed=3)
    async with running(cfg) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(30)))
        seqs = [r.sequence_number for r in await c.expect_many(SubmitSmResp, 30)]
        assert sorted(seqs) == list(range(2, 32))
        assert seqs != sorted(seqs)  # independent random delays: not answered in order


async def test_lognormal_latency_is_capped_at_high() -> None:
    cfg = Config(latency=Delay("lognormal", median=60.0, sigma=0.1, high=0.1))
    async with running(cfg) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(5)))
        assert all(r.ok for r in await c.expect_many(SubmitSmResp, 5, timeout=2.0))


async def test_injected_error_at_rate_one() -> None:
    cfg = Config(errors={"ESME_RSYSERR": 1.0})
    async with running(cfg) as smsc:
        c = await bound(smsc)
        for _ in range(5):
            resp = await c.submit()
            assert resp.command_status == S.ESME_RSYSERR
            assert resp.message_id == ""  # type: ignore[attr-defined]
        assert len(smsc.ledger) == 0
        assert smsc.stats["errors_injected"] == 5


async def test_injected_error_mix_with_seed() -> None:
    cfg = Config(errors={"ESME_RSUBMITFAIL": 0.25, "ESME_RTHROTTLED": 0.25}, seed=11)
    async with running(cfg) as smsc:
        c = await bound(smsc)
        await c.send(*(c.submit_sm() for _ in range(400)))
        counts = Counter([r.command_status for r in await c.expect_many(SubmitSmResp, 400)])
        assert set(counts) == {0, S.ESME_RSUBMITFAIL, S.ESME_RTHROTTLED}
        for status in (S.ESME_RSUBMITFAIL, S.ESME_RTHROTTLED):
            assert 60 <= counts[status] <= 140, counts
        assert len(smsc.ledger) == counts[0]


async def test_submit_multi_one_id_one_entry_and_receipt_per_destination() -> None:
    async with running(Config()) as smsc:
        c = await bound(smsc)
        pdu = SubmitMulti(
            sequence_number=c.next_seq(), source_addr="SHOP", registered_delivery=1,
            dest_address=(SmeAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="111"),
                          SmeAddress(destination_addr="222")),
            short_message=b"to both",
        )
        await c.send(pdu)
        got = await c.collect(3)
        [resp] = [p for p in got if isinstance(p, SubmitMultiResp)]
        receipts = [p for p in got if isinstance(p, DeliverSm)]
        assert resp.ok and resp.message_id
        assert [e.destination_addr for e in smsc.ledger.entries(command="submit_multi")] == [
            "111", "222"]
        assert {e.message_id for e in smsc.ledger} == {resp.message_id}
        assert sorted(r.source_addr for r in receipts) == ["111", "222"]
        assert {parse_receipt(r.short_message).id for r in receipts} == {resp.message_id}


async def test_data_sm_is_accepted_with_receipt() -> None:
    async with running(Config()) as smsc:
        c = await bound(smsc)
        pdu = DataSm(sequence_number=c.next_seq(), source_addr="SHOP", destination_addr="333",
                     registered_delivery=1, tlvs=(Tlv(Tag.message_payload, b"payload"),))
        await c.send(pdu)
        resp, receipt = await c.collect(2)
        assert isinstance(resp, DataSmResp) and resp.ok
        assert isinstance(receipt, DeliverSm) and receipt.is_receipt
        assert receipt.tlv(Tag.receipted_message_id) == resp.message_id
        [entry] = smsc.ledger.entries(command="data_sm")
        assert entry.payload_length == 7


async def test_ledger_filters_and_dump() -> None:
    cfg = Config(accounts=[shop(), Account("other", "pw")])
    async with running(cfg) as smsc:
        a = await bound(smsc)
        b = await SmppClient.connect(smsc.port)
        await b.bind("transmitter", "other", "pw")
        for n in range(3):
            await a.submit(destination_addr=f"10{n}")
        await b.submit(destination_addr="200")
        assert len(smsc.ledger.entries(account="shop")) == 3
        assert [e.destination_addr for e in smsc.ledger.entries(account="other")] == ["200"]
        assert len(smsc.ledger.entries(account="shop", destination_addr="101")) == 1
        assert smsc.ledger.entries(account="nobody") == []
        out = io.StringIO()
        assert smsc.ledger.dump_jsonl(out) == 4
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [r["destination_addr"] for r in rows] == ["100", "101", "102", "200"]
        assert rows[0]["account"] == "shop" and rows[0]["command"] == "submit_sm"


async def test_ledger_limit_drops_oldest_and_counts() -> None:
    async with running(Config(ledger_limit=5)) as smsc:
        c = await bound(smsc)
        for n in range(8):
            await c.submit(destination_addr=str(1000 + n))
        assert len(smsc.ledger) == 5
        assert smsc.ledger.dropped == 3
        assert [e.destination_addr for e in smsc.ledger] == [str(1000 + n) for n in range(3, 8)]


async def test_query_sm_enroute_then_delivered() -> None:
    cfg = Config(receipts=ReceiptConfig(delay=Delay("fixed", value=0.3)))
    async with running(cfg) as smsc:
        c = await bound(smsc)
        mid = (await c.submit(registered_delivery=1)).message_id  # type: ignore[attr-defined]
        resp = await c.request(QuerySm(sequence_number=c.next_seq(), message_id=mid))
        assert isinstance(resp, QuerySmResp) and resp.ok
        assert resp.message_state == MessageState.ENROUTE
        assert resp.message_id == mid and resp.final_date == ""
        receipt = await c.expect(DeliverSm, timeout=2.0)
        await c.send(receipt.response())
        resp = await c.request(QuerySm(sequence_number=c.next_seq(), message_id=mid))
        assert resp.message_state == MessageState.DELIVERED  # type: ignore[attr-defined]
        assert len(resp.final_date) == 16  # type: ignore[attr-defined]


async def test_query_sm_without_receipt_and_unknown_id() -> None:
    async with running(Config()) as smsc:
        c = await bound(smsc)
        mid = (await c.submit()).message_id  # type: ignore[attr-defined]
        resp = await c.request(QuerySm(sequence_number=c.next_seq(), message_id=mid))
        assert resp.message_state == MessageState.DELIVERED  # type: ignore[attr-defined]
        resp = await c.request(QuerySm(sequence_number=c.next_seq(), message_id="nope"))
        assert resp.command_status == S.ESME_RQUERYFAIL


async def test_cancel_sm_of_pending_message_gives_deleted_receipt() -> None:
    cfg = Config(receipts=ReceiptConfig(delay=Delay("fixed", value=0.3)))
    async with running(cfg) as smsc:
        c = await bound(smsc)
        mid = (await c.submit(registered_delivery=1)).message_id  # type: ignore[attr-defined]
        resp = await c.request(CancelSm(sequence_number=c.next_seq(), message_id=mid))
        assert isinstance(resp, CancelSmResp) and resp.ok
        query = await c.request(QuerySm(sequence_number=c.next_seq(), message_id=mid))
        assert query.message_state == MessageState.DELETED  # type: ignore[attr-defined]
        receipt = await c.expect(DeliverSm)
        assert parse_receipt(receipt.short_message).stat == "DELETED"
        assert receipt.tlv(Tag.message_state) == MessageState.DELETED
        await c.send(receipt.response())
        # Nothing left to cancel.
        again = await c.request(CancelSm(sequence_number=c.next_seq(), message_id=mid))
        assert again.command_status == S.ESME_RCANCELFAIL


async def test_replace_sm_only_while_pending() -> None:
    cfg = Config(receipts=ReceiptConfig(delay=Delay("fixed", value=0.3)))
    async with running(cfg) as smsc:
        c = await bound(smsc)
        mid = (await c.submit(registered_delivery=1)).message_id  # type: ignore[attr-defined]
        ok = await c.request(ReplaceSm(sequence_number=c.next_seq(), message_id=mid,
                                       short_message=b"new"))
        assert ok.ok
        await c.send((await c.expect(DeliverSm)).response())
        late = await c.request(ReplaceSm(sequence_number=c.next_seq(), message_id=mid,
                                         short_message=b"newer"))
        assert late.command_status == S.ESME_RREPLACEFAIL
