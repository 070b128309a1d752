"""SMPP codec speed: smsengine against aiosmpplib, in the same run.

Operations, per message:
- encode: build a submit_sm from its fields (validated) and encode it with a sequence number;
- decode: decode a whole PDU back into typed values, for a typical submit_sm and for a
  deliver_sm delivery receipt with TLVs. The receipt decode includes parsing the receipt text
  (``id:… stat:…``) on both sides, because aiosmpplib's ESME does that for every receipt and so
  will our engine. ``decode_per_s`` is the rate over a 1:1 mix of the two.

aiosmpplib's decode also turns short_message into str (GSM 03.38); ours leaves the octets to the
text layer, which decodes them only when the application asks. That is the design of each
library, so it is what a user gets, and is reported as such.

The machine is shared and noisy, so the operations are measured in alternating rounds and each
keeps its best round: both libraries see the same conditions. Prints a table, or with
``--json`` exactly one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_aiosmpplib as peer
from _common import best_rates

from smsengine.smpp import (
    DeliverSm,
    SubmitSm,
    decode_pdu,
    parse_receipt,
)

TARGET_ENCODE_RATIO = 6.0
TARGET_DECODE_RATIO = 5.0

_TEXT = peer.TEXT.encode("ascii")


def ours_build_encode(seq: int) -> bytes:
    return SubmitSm(
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="SMSENGINE",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="8613800138000",
        registered_delivery=1,
        short_message=_TEXT,
    ).encode(seq)


def ours_decode_submit(data: bytes) -> SubmitSm:
    pdu = decode_pdu(data)
    assert type(pdu) is SubmitSm
    return pdu


def ours_decode_receipt(data: bytes) -> object:
    pdu = decode_pdu(data)
    assert type(pdu) is DeliverSm
    if pdu.is_receipt:
        return parse_receipt(pdu.short_message)
    return pdu


def _check_same_work() -> None:
    """Both sides must produce the same wire bytes and read the same facts back."""
    ours = ours_build_encode(1)
    if ours != peer.SUBMIT_SM:
        raise SystemExit(f"encodings differ:\nours   {ours.hex()}\npeer   {peer.SUBMIT_SM.hex()}")
    receipt = ours_decode_receipt(peer.RECEIPT_DELIVER_SM)
    theirs = peer.decode_deliver_sm(peer.RECEIPT_DELIVER_SM).parse_receipt()
    assert receipt.id == theirs["id"] == "1234567890"  # type: ignore[attr-defined]
    assert receipt.stat == theirs["stat"] == "DELIVRD"  # type: ignore[attr-defined]
    assert ours_decode_submit(peer.SUBMIT_SM).destination_addr == "8613800138000"


def measure(rounds: int, seconds: float) -> dict[str, dict[str, float]]:
    ops: dict[str, dict[str, Callable[[], object]]] = {
        "smsengine": {
            "encode_submit_sm": lambda: ours_build_encode(7),
            "decode_submit_sm": lambda: ours_decode_submit(peer.SUBMIT_SM),
            "decode_deliver_sm_receipt": lambda: ours_decode_receipt(peer.RECEIPT_DELIVER_SM),
        },
        "aiosmpplib": {
            "encode_submit_sm": lambda: peer.build_encode_submit_sm(7),
            "decode_submit_sm": lambda: peer.decode_submit_sm(peer.SUBMIT_SM),
            "decode_deliver_sm_receipt": lambda: peer.decode_deliver_sm(peer.RECEIPT_DELIVER_SM),
        },
    }
    return best_rates(ops, rounds, seconds)


def summarise(rates: dict[str, float]) -> dict[str, float]:
    mix = 2.0 / (1.0 / rates["decode_submit_sm"] + 1.0 / rates["decode_deliver_sm_receipt"])
    return {"encode_per_s": round(rates["encode_submit_sm"]), "decode_per_s": round(mix)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (best kept)")
    parser.add_argument("--seconds", type=float, default=0.4, help="seconds per measurement")
    args = parser.parse_args(argv)

    _check_same_work()
    best = measure(args.rounds, args.seconds)
    ours, theirs = summarise(best["smsengine"]), summarise(best["aiosmpplib"])
    ratio = {
        "encode": round(ours["encode_per_s"] / theirs["encode_per_s"], 2),
        "decode": round(ours["decode_per_s"] / theirs["decode_per_s"], 2),
    }
    result = {
        **ours,
        "aiosmpplib": theirs,
        "ratio": ratio,
        "targets": {"encode": TARGET_ENCODE_RATIO, "decode": TARGET_DECODE_RATIO},
        "met": ratio["encode"] >= TARGET_ENCODE_RATIO and ratio["decode"] >= TARGET_DECODE_RATIO,
        "detail": {lib: {op: round(r) for op, r in rates.items()} for lib, rates in best.items()},
        "rounds": args.rounds,
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'operation':28s} {'smsengine/s':>12s} {'aiosmpplib/s':>13s} {'ratio':>6s}")
    for op, ours_rate in best["smsengine"].items():
        theirs_rate = best["aiosmpplib"][op]
        print(f"{op:28s} {ours_rate:12,.0f} {theirs_rate:13,.0f} {ours_rate / theirs_rate:6.1f}")
    print(
        f"encode ratio {ratio['encode']} (target {TARGET_ENCODE_RATIO}), "
        f"decode ratio {ratio['decode']} (target {TARGET_DECODE_RATIO}): "
        f"{'met' if result['met'] else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
