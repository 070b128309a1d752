"""Send one verification code and wait until the handset has it (DELIVERED).

A fake SMSC runs in this process on a free port, so no carrier account is needed; against a real
SMSC only the channel's host, port and credentials change.

    .venv/bin/python examples/send_otp.py
"""

from __future__ import annotations

import asyncio
import time

from smsengine.engine import Engine, Message, MessageState, engine_config_from_dict
from smsengine.fakesmsc import FakeSMSC, config_from_dict


async def main() -> int:
    # The carrier: one account, and a handset that acknowledges after a fifth of a second.
    smsc_config = config_from_dict({
        "accounts": [{"system_id": "shop", "password": "secret"}],
        "receipts": {"delay": {"kind": "fixed", "value": 0.2}},
    })
    async with FakeSMSC(smsc_config) as smsc:
        config = engine_config_from_dict({
            "channels": [{"name": "carrier", "host": "127.0.0.1", "port": smsc.port,
                          "system_id": "shop", "password": "secret", "default_source": "SHOP"}],
        })
        async with Engine(config) as engine:
            # Sending before the bind is up would only queue; waiting makes the timing honest.
            await engine.wait_ready()
            started = time.monotonic()
            # kind="otp" puts it in the highest-priority lane, ahead of any queued campaign.
            handle = await engine.send(Message(destination="8613800138000",
                                               text="Your ShopCN login code is 402113", kind="otp"))
            state = await handle.wait(timeout=10)
            segment = handle.segments[0]
            print(f"OTP to {handle.message.destination}: {state.name} in "
                  f"{time.monotonic() - started:.2f} s (SMSC message_id {segment.message_id})")
            return 0 if state is MessageState.DELIVERED else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
