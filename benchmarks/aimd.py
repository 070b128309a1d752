"""The engine's flow control against carriers that throttle: what share of its rate a campaign
keeps (issue 21: "AIMD never below what the carrier takes").

Three runs in one process, each a fresh fake SMSC and engine, one channel with ``--tps`` (500)
and a campaign of ``tps * seconds`` messages:

1. ``unthrottled``: a carrier that takes everything: the campaign's rate, the reference;
2. ``refusing``: a carrier that answers ``--refused`` (50 %) of all submits ESME_RTHROTTLED
   whatever the rate (the fake SMSC's ``errors``); refused submits are resent, so the best
   possible rate is (1 - refused) of the reference;
3. ``tps_limit``: a carrier that takes ``--limit`` (200) a second and throttles the rest (the
   fake SMSC's account ``tps``): the rate it settles at.

The rate of a run is messages accepted (the fake SMSC's ledger) over the time from the first
send to the last acceptance; ``tps_limit`` also gives the accepted rate and the mean paced rate
over the second half of its run, each as a fraction of the limit.

Targets: ``refusing`` >= 0.40 of ``unthrottled``; ``tps_limit`` within 10 % of the limit.

``--protocol cmpp`` makes the same three runs against the fake CMPP ISMG (SUBMIT_RESP Result 8,
flow control, for the refusals and over its account ``tps``), with CMPP's window of 16; the
chaos runs' CMPP channel had ``--tps 250``.

    .venv/bin/python benchmarks/aimd.py --json
    .venv/bin/python benchmarks/aimd.py --protocol cmpp --tps 250 --limit 100 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from smsengine.engine import Engine, Message, engine_config_from_dict
from smsengine.fakesmsc import FakeISMG, FakeSMSC, config_from_dict

ACCOUNT = {"system_id": "shop", "password": "pw"}
CMPP_ACCOUNT = {"system_id": "900001", "password": "secret"}
#: The refusal each protocol's throttle is answered with.
THROTTLE = {"smpp": "ESME_RTHROTTLED", "cmpp": "8"}


async def campaign(smsc_fields: dict[str, Any], tps: float, n: int,
                   protocol: str = "smpp") -> dict[str, Any]:
    """Send ``n`` messages through a channel limited to ``tps`` into a fake SMSC (``cmpp``: the
    fake ISMG) configured with ``smsc_fields``; the rate at which the carrier accepted them,
    and the paced rate sampled every 0.1 s."""
    cmpp = protocol == "cmpp"
    account = CMPP_ACCOUNT if cmpp else ACCOUNT
    smsc_cfg = config_from_dict({"accounts": [dict(account, **smsc_fields.pop("account", {}))],
                                 **smsc_fields, **({"protocol": "cmpp"} if cmpp else {})})
    fields: dict[str, Any] = {"name": "a", "host": "127.0.0.1", "tps": tps, **account}
    if cmpp:
        fields.update(protocol="cmpp", default_source="106900", service_id="BENCH")
    else:
        fields.update(default_source="SHOP")
    async with (FakeISMG(smsc_cfg) if cmpp else FakeSMSC(smsc_cfg)) as smsc:
        cfg = engine_config_from_dict({"channels": [dict(fields, port=smsc.port)]})
        async with Engine(cfg) as engine:
            await engine.wait_ready(5)
            channel = engine.channels["a"]
            loop = asyncio.get_running_loop()
            samples: list[tuple[float, float]] = []
            start = time.time()
            handles = await engine.send_many(
                Message(destination=f"1380{i:07d}" if cmpp else f"86138{i:08d}",
                        text=f"Order {i} has shipped",
                        registered_delivery=False) for i in range(n))
            while len(smsc.ledger) < n:
                samples.append((loop.time(), channel.flow.rate))
                await asyncio.sleep(0.1)
            times = sorted(entry.time for entry in smsc.ledger.entries())
            await asyncio.gather(*(h.wait() for h in handles))
            elapsed = times[-1] - start
            half = samples[len(samples) // 2][0] if samples else loop.time()
            second_half = [rate for t, rate in samples if t >= half]
            wall_half = start + elapsed / 2
            late = [t for t in times if t >= wall_half]
            return {
                "messages": n,
                "seconds": round(elapsed, 2),
                "rate": round(n / elapsed, 1),
                "throttled": channel.counters["throttled"],
                "accepted_rate_second_half": round(len(late) / (times[-1] - wall_half), 1)
                if late and times[-1] > wall_half else None,
                "paced_rate_second_half": round(sum(second_half) / len(second_half), 1)
                if second_half else None,
                "flow": channel.flow.state,
            }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    n = int(args.tps * args.seconds)
    protocol = args.protocol
    unthrottled = await campaign({}, args.tps, n, protocol)
    refusing = await campaign({"errors": {THROTTLE[protocol]: args.refused}}, args.tps, n,
                              protocol)
    limited = await campaign({"account": {"tps": args.limit}}, args.tps,
                             int(args.limit * args.seconds), protocol)
    accepted = limited["accepted_rate_second_half"] or 0.0
    paced = limited["paced_rate_second_half"] or 0.0
    return {
        "protocol": protocol, "tps": args.tps, "refused": args.refused, "limit": args.limit,
        "unthrottled": unthrottled, "refusing": refusing, "tps_limit": limited,
        "fractions": {
            # Targets: >= 0.40 (the best possible is 1 - refused).
            "refusing_of_unthrottled": round(refusing["rate"] / unthrottled["rate"], 3),
            "refusing_best_possible": round(1 - args.refused, 3),
            # Target: within 0.9 .. 1.1.
            "tps_limit_accepted_of_limit": round(accepted / args.limit, 3),
            "tps_limit_paced_of_limit": round(paced / args.limit, 3),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=sorted(THROTTLE), default="smpp",
                        help="the fake SMSC (smpp) or the fake ISMG (cmpp)")
    parser.add_argument("--tps", type=float, default=500.0, help="the channel's TPS (500)")
    parser.add_argument("--refused", type=float, default=0.5,
                        help="share refused whatever the rate in the second run (0.5)")
    parser.add_argument("--limit", type=float, default=200.0,
                        help="the carrier's TPS limit in the third run (200)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="campaign length at the unthrottled rate (10)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in result["fractions"].items():
            print(f"{name:32} {value}")
