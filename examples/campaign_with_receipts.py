"""A small campaign: queue it with send_many, follow it through engine.events(), summarise.

The fake SMSC answers 90% DELIVRD and 10% UNDELIV, after a random delay, so the summary has
something to say. One number has opted out before the campaign: send_many gives back a FAILED
handle for it at once, and nothing reaches the carrier.

    .venv/bin/python examples/campaign_with_receipts.py
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from smsengine.engine import (
    Engine,
    Message,
    MessageEvent,
    MessageRefusedError,
    MessageState,
    engine_config_from_dict,
)
from smsengine.fakesmsc import FakeSMSC, config_from_dict

SIZE = 200


async def main() -> int:
    smsc_config = config_from_dict({
        "seed": 7,
        "accounts": [{"system_id": "shop", "password": "secret"}],
        "receipts": {"delay": {"kind": "uniform", "low": 0.05, "high": 0.5},
                     "statuses": {"DELIVRD": 0.9, "UNDELIV": 0.1}},
    })
    async with FakeSMSC(smsc_config) as smsc:
        config = engine_config_from_dict({
            "channels": [{"name": "carrier", "host": "127.0.0.1", "port": smsc.port,
                          "system_id": "shop", "password": "secret", "default_source": "SHOP",
                          "tps": 100}],  # the rate the carrier contract allows, in segments/s
        })
        async with Engine(config) as engine:
            await engine.wait_ready()
            engine.suppress("8613900000007", "replied STOP last week")
            started = time.monotonic()
            messages = [Message(destination=f"86139{i:08d}", kind="marketing",
                                text="Weekend sale: 20% off everything. Reply STOP to opt out")
                        for i in range(SIZE)]
            handles = await engine.send_many(messages)
            refused = [h for h in handles if isinstance(h.error, MessageRefusedError)]
            # Refused handles are final already; the others finish through events.
            waiting = {h.ref for h in handles if not h.final}
            states: Counter[MessageState] = Counter(h.state for h in refused)
            async for event in engine.events():
                # events() also carries MO messages and bind events; only final states count.
                if isinstance(event, MessageEvent) and event.state.final \
                        and event.ref in waiting:
                    waiting.discard(event.ref)
                    states[event.state] += 1
                    if not waiting:
                        break
            elapsed = time.monotonic() - started
            channel = engine.stats()["channels"]["carrier"]
    print(f"campaign: {SIZE} messages in {elapsed:.1f} s")
    for state, n in states.most_common():
        print(f"  {state.name:<14} {n}")
    for h in refused:
        print(f"  refused {h.message.destination}: {h.error}")
    print(f"receipts matched: {channel['receipts_matched'] + channel['receipts_early']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
