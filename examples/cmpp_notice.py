"""Send a long Chinese order notice and a login code over CMPP 3.0 to China Mobile's gateway
(here the bundled fake ISMG), wait for their status reports, and take a "退订" reply that opts
the number out of marketing.

    .venv/bin/python examples/cmpp_notice.py
"""

# ruff: noqa: RUF001  (real Chinese text: fullwidth punctuation on purpose)

from __future__ import annotations

import asyncio

from smsengine.cmpp import unpack_msg_id
from smsengine.engine import Engine, Message, MessageRefusedError, engine_config_from_dict
from smsengine.fakesmsc import FakeISMG, config_from_dict

NOTICE = (
    "【商城】尊敬的客户，您的订单202611230417已发货，承运商顺丰速运，运单号SF1234567890123，"
    "预计2天内送达，请保持电话畅通。如需修改收货地址，请拨打客服热线400-820-8820。回T退订"
)


async def main() -> int:
    ismg_config = config_from_dict({
        "protocol": "cmpp",
        "accounts": [{"system_id": "900001", "password": "888888"}],
        "receipts": {"delay": {"kind": "uniform", "low": 0.05, "high": 0.3}},
    })
    async with FakeISMG(ismg_config) as ismg:
        config = engine_config_from_dict({
            "channels": [{"name": "cmcc", "protocol": "cmpp", "host": "127.0.0.1",
                          "port": ismg.port, "system_id": "900001", "password": "888888",
                          "default_source": "10690001", "service_id": "MALL"}],
        })
        async with Engine(config) as engine:
            await engine.wait_ready()
            code = await engine.send(Message(destination="13800138000",
                                             text="Your login code is 402113", kind="otp"))
            notice = await engine.send(Message(destination="13800138000", text=NOTICE))
            print(f"login code: {(await code.wait(timeout=10)).name}")
            print(f"notice: {(await notice.wait(timeout=10)).name}")
            # One SUBMIT per part (TP_udhi = 1, Pk_total/Pk_number), each with the ISMG's Msg_Id.
            for segment in notice.segments:
                parts = unpack_msg_id(int(segment.message_id))
                print(f"  part {segment.index + 1}: Msg_Id {segment.message_id} (gateway "
                      f"{parts.gateway}, {parts.month:02d}-{parts.day:02d} "
                      f"{parts.hour:02d}:{parts.minute:02d}:{parts.second:02d}, sequence "
                      f"{parts.sequence}) {segment.state.name}")

            # The customer replies 退订 (unsubscribe): marketing to the number is refused.
            await ismg.inject_mo("13800138000", "10690001", "退订", data_coding=15)
            for _ in range(200):
                if "13800138000" in engine.suppression:
                    break
                await asyncio.sleep(0.01)
            try:
                await engine.send(Message(destination="13800138000", text="双十一大促",
                                          kind="marketing"))
            except MessageRefusedError as exc:
                print(f"marketing refused: {exc}")
            return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
