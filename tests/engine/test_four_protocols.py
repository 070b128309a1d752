"""One engine with SMPP, CMPP, SGIP and SMGP channels, configured by examples/three_carriers.toml
and routed by the prefixes of examples/cn_prefixes.toml, against the four fake gateways over
127.0.0.1: each carrier's numbers, written nationally, with 86 or with +86, reach that carrier's
gateway (its ledger) and come back DELIVERED with their receipts matched; foreign numbers, and a
"+1 310" number that a bare 131… would send to Unicom, go to the SMPP aggregator.

Every wait is a condition with a deadline."""

from __future__ import annotations

import socket
from pathlib import Path

import msgspec

from smsengine.engine import Engine, MessageState, load_engine_config
from smsengine.fakesmsc import FakeISMG, FakeSMGW, FakeSMSC, config_from_dict
from smsengine.fakesmsc.smg import FakeSMG

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "three_carriers.toml"

NOTICE = ("【商城】尊敬的会员，您的订单已由顺丰速运发出，运单号SF1234567890，预计明天送达。"  # noqa: RUF001
          "如有疑问请致电客服热线400-800-1234，我们将竭诚为您服务。回T退订")  # noqa: RUF001

# channel -> numbers of its carrier (each sent as written, as 86… and as +86…)
NUMBERS = {
    "cmcc": ["13800138000", "13412345678", "15012345678", "19812345678", "17031234567"],
    "cu": ["13012345678", "15512345678", "16612345678", "18612345678", "17041234567"],
    "ct": ["13312345678", "13491234567", "15312345678", "18912345678", "17001234567"],
}
ABROAD = ["+447700900123", "+13105551234", "+8619212345678"]  # (192: China Broadnet, none of
                                                             # the three: the aggregator)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_one_engine_four_protocols_routed_by_the_prefix_table() -> None:
    example = load_engine_config(CONFIG)
    by_name = {c.name: c for c in example.channels}
    account = {name: {"system_id": c.system_id, "password": c.password}
               for name, c in by_name.items()}
    listen = free_port()
    async with (
        FakeSMSC(config_from_dict({"accounts": [account["intl"]]})) as smsc,
        FakeISMG(config_from_dict({"protocol": "cmpp", "accounts": [account["cmcc"]]})) as ismg,
        FakeSMG(config_from_dict({"protocol": "sgip", "accounts": [account["cu"]],
                                  "sgip": {"sp_port": listen}})) as smg,
        FakeSMGW(config_from_dict({"protocol": "smgp", "accounts": [account["ct"]]})) as smgw,
    ):
        ports = {"intl": smsc.port, "cmcc": ismg.port, "cu": smg.port, "ct": smgw.port}
        channels = [msgspec.structs.replace(c, host="127.0.0.1", port=ports[c.name])
                    for c in example.channels]
        channels = [msgspec.structs.replace(c, listen_host="127.0.0.1", listen_port=listen)
                    if c.protocol == "sgip" else c for c in channels]
        assert {c.protocol for c in channels} == {"smpp", "cmpp", "sgip", "smgp"}
        config = msgspec.structs.replace(example, channels=channels)
        async with Engine(config) as engine:
            await engine.wait_ready(5)
            sent = []
            for channel, numbers in NUMBERS.items():
                for i, number in enumerate(numbers):
                    for written in (number, "86" + number, "+86" + number):
                        text = NOTICE if i == 0 and written == number else f"验证码 {i:06d}"
                        handle = await engine.send(destination=written, text=text, kind="otp")
                        sent.append((channel, number, handle))
            abroad = [await engine.send(destination=d, text="Code 1") for d in ABROAD]
            for channel, number, handle in sent:
                assert await handle.wait(10) is MessageState.DELIVERED, (channel, number)
                assert handle.channel == channel, (number, handle.channel)
            for handle in abroad:
                assert await handle.wait(10) is MessageState.DELIVERED
                assert handle.channel == "intl"
            ledgers = {"cmcc": ismg.ledger.entries(), "cu": smg.ledger.entries(),
                       "ct": smgw.ledger.entries(), "intl": smsc.ledger.entries()}
            for channel, numbers in NUMBERS.items():
                # 5 numbers x 3 forms, the first one's long notice in two parts
                assert len(ledgers[channel]) == 16, channel
                reached = {e.destination_addr for e in ledgers[channel]}
                assert all(any(d.endswith(n) for d in reached) for n in numbers), channel
                counters = engine.channels[channel].counters
                assert counters["receipts_matched"] + counters["receipts_early"] == 16
                assert counters["receipts_unmatched"] == 0
            assert {e.destination_addr for e in ledgers["intl"]} == {d.lstrip("+")
                                                                      for d in ABROAD}
