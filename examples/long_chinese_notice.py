"""Send an order notice too long for one SMS: the engine splits it into UCS2 parts with a
concatenation UDH, the handset joins them, and the message is DELIVERED when every part is.

    .venv/bin/python examples/long_chinese_notice.py
"""

# ruff: noqa: RUF001  (real Chinese text: fullwidth punctuation on purpose)

from __future__ import annotations

import asyncio

from smsengine.engine import Engine, Message, engine_config_from_dict
from smsengine.fakesmsc import FakeSMSC, config_from_dict
from smsengine.text import split

NOTICE = (
    "【商城】尊敬的客户，您的订单202611230417已发货，承运商顺丰速运，运单号SF1234567890123，"
    "预计2天内送达，请保持电话畅通。如需修改收货地址，请拨打客服热线400-820-8820或在App内"
    "联系在线客服。感谢您的支持！"
)


async def main() -> int:
    # Chinese needs UCS2: 70 characters fit one SMS, 67 per part once a UDH is needed.
    plan = split(NOTICE)
    print(f"{len(NOTICE)} characters, {plan.encoding.value} (data_coding {plan.data_coding}), "
          f"{len(plan.parts)} parts")
    for part in plan.parts:
        print(f"  part {part.seqnum}/{part.total}: {part.payload.decode('utf-16-be')}")

    smsc_config = config_from_dict({
        "accounts": [{"system_id": "shop", "password": "secret"}],
        "receipts": {"delay": {"kind": "uniform", "low": 0.05, "high": 0.3}},
    })
    async with FakeSMSC(smsc_config) as smsc:
        config = engine_config_from_dict({
            "channels": [{"name": "carrier", "host": "127.0.0.1", "port": smsc.port,
                          "system_id": "shop", "password": "secret",
                          "default_source": "106900012345"}],
        })
        async with Engine(config) as engine:
            await engine.wait_ready()
            handle = await engine.send(Message(destination="8613800138000", text=NOTICE,
                                               kind="notification"))
            state = await handle.wait(timeout=10)
            # Each part is its own submit_sm with its own message_id and receipt; the message
            # takes the worst of its parts' states.
            for segment in handle.segments:
                print(f"  segment {segment.index}: message_id {segment.message_id} "
                      f"{segment.state.name}")
            print(f"notice: {state.name}")
            return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
