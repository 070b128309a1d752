"""Fake SMSC on uvloop, which ``smsengine fakesmsc`` and ``smsengine demo`` run on.

uvloop's ``call_at`` returns a plain ``Handle`` (no ``when()``) for a time less than a
millisecond away; the receipt timer once asked it for ``when()`` and died with AttributeError as
soon as random receipt delays put a deadline that close.
"""

from __future__ import annotations

import asyncio

import pytest

from smsengine.fakesmsc import Account, Config, Delay, ReceiptConfig
from smsengine.smpp import DeliverSm, SubmitSmResp
from tests._support.smpp_client import SmppClient, running

uvloop = pytest.importorskip("uvloop")


async def _receipts_with_random_delays(count: int) -> int:
    config = Config(accounts=[Account("shop", "secret")], seed=5,
                    receipts=ReceiptConfig(delay=Delay("uniform", low=0.0, high=0.003)))
    async with running(config) as smsc:
        c = await SmppClient.connect(smsc.port)
        assert (await c.bind("transceiver")).ok
        got = 0
        for _ in range(count // 20):
            await c.send(*(c.submit_sm(registered_delivery=1) for _ in range(20)))
            await asyncio.sleep(0.001)  # let deadlines fall due between reads
        want = count * 2  # a submit_sm_resp and a receipt per message
        while want:
            pdu = await c.recv(timeout=5.0)
            if isinstance(pdu, DeliverSm):
                await c.send(pdu.response())
                got += 1
            else:
                assert isinstance(pdu, SubmitSmResp) and pdu.ok
            want -= 1
        await c.close()
        return got


def test_receipts_with_random_delays_on_uvloop() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(_receipts_with_random_delays(400)) == 400


def test_timer_armed_for_now_then_later_on_uvloop() -> None:
    async def arm() -> None:
        async with running(Config()) as smsc:
            loop = asyncio.get_running_loop()
            smsc._arm(loop.time())  # uvloop: a Handle, not a TimerHandle
            smsc._arm(loop.time() + 1.0)  # used to call .when() on it

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(arm())
