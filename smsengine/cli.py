"""The ``smsengine`` command line.

Subcommands:

- ``smsengine demo``: the engine sending a shop's traffic (OTP codes, long Chinese notices, a
  campaign with an opt-out) through the bundled fake SMSC, with live progress and a summary
  (see :mod:`smsengine.demo`). ``smsengine demo --codec``: the SMPP codec step by step instead —
  build, encode, frame and decode PDUs and read a delivery receipt.
- ``smsengine decode HEX…``: decode SMPP PDUs from hex (one or more, concatenated or separate)
  and print them as JSON, or say precisely what is wrong with them.
- ``smsengine receipt TEXT``: parse delivery receipt text and print its fields as JSON.
- ``smsengine segments TEXT``: the encoding, data_coding and parts a text costs.
- ``smsengine fakesmsc``: run the bundled fake SMSC (see :mod:`smsengine.fakesmsc.main`).
- ``smsengine bench --scenario NAME``: the load tool — a scenario through the engine against the
  fake SMSC in its own process or any SMPP server, measured (see :mod:`smsengine.bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

from . import __version__
from .smpp import (
    DataCoding,
    DeliverSm,
    DeliveryReceipt,
    EnquireLink,
    Framer,
    FramingError,
    InvalidPdu,
    MessageState,
    Npi,
    Pdu,
    ReceiptParseError,
    RegisteredDelivery,
    SubmitSm,
    Tag,
    Tlv,
    Ton,
    decode_pdu,
    parse_receipt,
    status_name,
)

__all__ = ["main", "pdu_to_json"]


def _tag_name(tag: int) -> str:
    try:
        return Tag(tag).name
    except ValueError:
        return f"0x{tag:04X}"


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        text = value.decode("latin-1")
        return {"hex": value.hex(), "text": text} if text.isprintable() else {"hex": value.hex()}
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if hasattr(value, "__struct_fields__"):
        return {f: _value(getattr(value, f)) for f in value.__struct_fields__}
    return int(value) if isinstance(value, int) else value


def pdu_to_json(pdu: Pdu) -> dict[str, Any]:
    """A readable dict of a PDU: command name, status name, fields, TLVs by tag name."""
    out: dict[str, Any] = {"command": pdu.command_name}
    for name in pdu.__struct_fields__:
        value = getattr(pdu, name)
        if name == "command_status":
            out[name] = status_name(value)
        elif name == "tlvs":
            if value:
                out[name] = {_tag_name(t.tag): _value(t.value) for t in value}
        else:
            out[name] = _value(value)
    return out


def _cmd_decode(args: argparse.Namespace) -> int:
    try:
        data = bytes.fromhex("".join(args.hex).replace(":", ""))
    except ValueError as exc:
        print(f"error: not hex: {exc}", file=sys.stderr)
        return 2
    framer = Framer()
    broken: FramingError | None = None
    try:
        events = framer.feed(data)
    except FramingError as exc:
        # What came whole before the bad length is printed, then the error (feed() yields
        # no ReceiptTlvs: that is feed_receipts).
        events, broken = cast(list[Pdu | InvalidPdu], exc.events), exc
    status = 0
    for event in events:
        if isinstance(event, InvalidPdu):
            status = 1
            reply = pdu_to_json(event.response) if event.response is not None else None
            print(json.dumps({"invalid": str(event.error), "status": status_name(event.status),
                              "field": event.error.field, "reply": reply}))
        else:
            print(json.dumps(pdu_to_json(event), ensure_ascii=False))
    if broken is not None:
        print(f"error: {broken}", file=sys.stderr)
        return 1
    if framer.buffered:
        print(f"error: {framer.buffered} trailing octets do not make a whole PDU", file=sys.stderr)
        status = 1
    return status


def _cmd_receipt(args: argparse.Namespace) -> int:
    text: str | bytes = args.text
    try:
        args.text.encode("utf-8")
    except UnicodeEncodeError:
        # Octets the locale could not decode: argv holds them as lone surrogates, which no
        # output can print. Read the argument's octets as a receipt's octets off the wire are
        # read (Latin-1) instead. Found by fuzz/cli_decode.py.
        text = os.fsencode(args.text)
    try:
        receipt = parse_receipt(text)
    except ReceiptParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    fields = {f: getattr(receipt, f) for f in receipt.__struct_fields__}
    state = receipt.state
    fields["state"] = state.name if state is not None else None
    for name in ("submitted_at", "done_at"):
        when = getattr(receipt, name)
        fields[name] = when.isoformat() if when is not None else None
    print(json.dumps(fields, ensure_ascii=False))
    return 0


def _cmd_segments(args: argparse.Namespace) -> int:
    """What a text costs: encoding, data_coding, parts and units, as the segmenter will send it."""
    from .text import MAX_PARTS, Encoding, SplitMethod, TextError, count

    try:
        c = count(args.text, method=SplitMethod(args.udh))
    except TextError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({
            "encoding": c.encoding.value,
            "data_coding": c.data_coding,
            "parts": c.parts,
            "units": c.units,
            "per_part": list(c.per_part),
        }))
    else:
        unit = {Encoding.GSM7: "septets", Encoding.ASCII: "septets", Encoding.UCS2: "UTF-16 units"}
        name = unit.get(c.encoding, "octets")
        parts = "1 part" if c.parts == 1 else f"{c.parts} parts {list(c.per_part)}"
        print(f"{c.encoding.value} (data_coding {c.data_coding}): {c.units} {name} in {parts}; "
              f"{c.units_left} {name} left in the last part")
    if c.parts > MAX_PARTS:
        print(f"error: too long: {c.parts} parts, at most {MAX_PARTS}", file=sys.stderr)
        return 1
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.codec:
        return _codec_demo()
    from .demo import run

    return run(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run

    return run(args)


def _codec_demo() -> int:
    """Walk through what the codec does, with the bytes on show."""
    import datetime as dt

    say = print
    say(f"smsengine {__version__} — SMPP 3.4 codec demonstration\n")
    submit = SubmitSm(
        sequence_number=1,
        source_addr_ton=Ton.ALPHANUMERIC,
        source_addr="SHOP",
        dest_addr_ton=Ton.INTERNATIONAL,
        dest_addr_npi=Npi.ISDN,
        destination_addr="8613800138000",
        registered_delivery=RegisteredDelivery.RECEIPT_ALWAYS,
        data_coding=DataCoding.SMSC_DEFAULT,
        short_message=b"Your login code is 402113",
    )
    wire = submit.encode()
    say("1. A verification code as a submit_sm, and its wire form:")
    say(f"   {submit!r}")
    say(f"   {len(wire)} octets: {wire.hex()}\n")

    receipt_text = DeliveryReceipt.build(
        "5F3A9C01",
        MessageState.DELIVERED,
        submitted_at=dt.datetime(2026, 11, 23, 12, 0),
        done_at=dt.datetime(2026, 11, 23, 12, 0, 4),
        text="Your login code is 402113",
    ).encode()
    deliver = DeliverSm(
        sequence_number=77,
        source_addr="8613800138000",
        destination_addr="SHOP",
        esm_class=0x04,
        short_message=receipt_text,
        tlvs=(Tlv(Tag.receipted_message_id, "5F3A9C01"), Tlv(Tag.message_state, 2)),
    )
    stream = wire + deliver.encode() + EnquireLink(sequence_number=78).encode()
    say("2. Three PDUs arriving one byte at a time through the framer:")
    framer = Framer()
    got: list[Pdu | InvalidPdu] = []
    for i in range(len(stream)):
        got.extend(framer.feed(stream[i : i + 1]))
    for event in got:
        say(f"   {type(event).__name__} seq={event.sequence_number}")
    say("")
    receipt = parse_receipt(deliver.short_message)
    say("3. The delivery receipt, read from the deliver_sm:")
    say(f"   id={receipt.id} stat={receipt.stat} state={receipt.state!r} "
        f"done_at={receipt.done_at}")
    say(f"   TLV receipted_message_id={deliver.tlv(Tag.receipted_message_id)!r}\n")

    say("4. What a malformed PDU gets back (truncated submit_sm body):")
    bad = wire[:30]
    bad = len(bad).to_bytes(4, "big") + bad[4:]
    event = Framer().feed(bad)[0]
    assert isinstance(event, InvalidPdu)
    say(f"   {event.error}")
    say(f"   reply: {event.response!r}\n")

    say("5. Building an illegal PDU fails at once, naming the field and the limit:")
    try:
        SubmitSm(destination_addr="8613800138000" * 2)
    except ValueError as exc:
        say(f"   {type(exc).__name__}: {exc}")
    if decode_pdu(wire) != submit:
        raise AssertionError("the codec did not round-trip its own submit_sm")
    say("\nRun 'smsengine demo' (without --codec) to see the engine send real traffic.")
    return 0


# The bench scenarios (smsengine.bench.SCENARIOS; a test checks they agree), declared here so that
# building the parser does not import the engine for every command.
BENCH_SCENARIOS = {
    "short": "GSM 7-bit, one part, no receipts",
    "receipts": "registered_delivery on; every receipt must be matched",
    "long-ucs2": "a 3-part Chinese message (UCS2), no receipts",
    "throttled": "the fake SMSC's TPS below the offered --rate; flow control must converge",
    "multi-bind": "four transceivers (--binds), receipts on",
    "cmpp": "CMPP 3.0, one part, status reports on (every one must be matched); then SMPP "
            "short in the same run, for the ratio",
    "sgip": "SGIP 1.2, one part, reports on (every one must be matched); then SMPP short in "
            "the same run, for the ratio",
    "smgp": "SMGP 3.0, one part, status reports on (every one must be matched); then SMPP "
            "short in the same run, for the ratio",
}


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    scenarios = "; ".join(f"{k}: {v}" for k, v in BENCH_SCENARIOS.items())
    parser.add_argument("--scenario", default="short", choices=list(BENCH_SCENARIOS),
                        help=f"what to send (default short). {scenarios}")
    parser.add_argument("--messages", type=int, default=10_000, metavar="N",
                        help="messages to send (default 10000)")
    parser.add_argument("--rate", type=float, default=0.0, metavar="TPS",
                        help="open loop at TPS messages per second (default: closed loop at "
                        "the maximum; throttled: 400)")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="offer load for this long instead of --messages")
    parser.add_argument("--binds", type=int, default=None, metavar="N",
                        help="transceiver binds (default 1; multi-bind: 4)")
    parser.add_argument("--window", type=int, default=128, metavar="N",
                        help="unanswered submit_sm per bind (default 128)")
    parser.add_argument("--server-tps", type=float, default=None, metavar="TPS",
                        help="throttled: the fake SMSC's account TPS (default half the rate)")
    parser.add_argument("--target", default=None, metavar="HOST:PORT",
                        help="send to this SMPP server instead of the bundled fake SMSC")
    parser.add_argument("--system-id", default="bench", help="with --target: the account")
    parser.add_argument("--password", default="bench", help="with --target: its password")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--ceiling", action="store_true",
                        help="then measure the raw asyncio pipe on this machine (pre-encoded "
                        "PDUs, no protocol work, the same window and binds) and report it as "
                        "'ceiling' with 'fraction_of_ceiling' (always for short without "
                        "--target)")
    parser.add_argument("--compare", choices=["aiosmpplib"], default=None,
                        help="then run the same scenario with this client library (in its own "
                        "process, against a fresh fake SMSC or the same --target) and report "
                        "it as 'peer' with 'ratio' (our msgs/s over its); needs a source "
                        "checkout and the dev extra")
    parser.add_argument("--peer-messages", type=int, default=None, metavar="N",
                        help="with --compare: messages for the peer (default --messages, at "
                        "most 2000: it is much slower, and the ratio is of msgs/s)")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="draw throughput and latency percentiles per 0.25 s to a PNG "
                        "(needs matplotlib: pip install smsengine[plot])")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsengine",
        description="Asyncio SMPP/CMPP engine and throughput-optimised SMS sender.",
        epilog="Run 'smsengine COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"smsengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="send a realistic mix through the bundled fake SMSC and summarise it",
        description="Start the fake SMSC and the engine in-process, send OTP codes, long Chinese "
        "order notices and a marketing campaign (one recipient replies 退订), show live progress "
        "and end with a summary of final states, receipts, opt-outs, latency and throughput. "
        "Exit 1 if any message did not reach a final state.",
    )
    # Declared here, not in smsengine.demo, so that building the parser does not import rich
    # and the engine for every command.
    demo.add_argument("--messages", type=int, default=2000, metavar="N",
                      help="marketing messages in the campaign (default 2000, at least 4); "
                      "OTP codes and order notices scale with it")
    demo.add_argument("--tps", type=float, default=400.0, metavar="N",
                      help="the channel's send rate in segments per second (default 400)")
    demo.add_argument("--seed", type=int, default=1, help="seed for numbers, texts and the "
                      "fake SMSC's random draws (default 1)")
    demo.add_argument("--codec", action="store_true",
                      help="instead, walk through the SMPP codec step by step (no network)")
    demo.set_defaults(func=_cmd_demo)

    decode = sub.add_parser(
        "decode",
        help="decode SMPP PDUs from hex and print them as JSON",
        description="Decode one or more SMPP PDUs given in hex (spaces and colons allowed); "
        "print one JSON object per PDU, or what is wrong with it. Exit 1 if any PDU is bad.",
    )
    decode.add_argument("hex", nargs="+", help="hex octets, e.g. 00000010000000150000000000000001")
    decode.set_defaults(func=_cmd_decode)

    receipt = sub.add_parser(
        "receipt",
        help="parse delivery receipt text and print its fields as JSON",
        description="Parse SMPP delivery receipt text (id:… sub:… stat:… err:… text:…).",
    )
    receipt.add_argument("text", help="the receipt text, quoted")
    receipt.set_defaults(func=_cmd_receipt)

    segments = sub.add_parser(
        "segments",
        help="count the parts and units a text costs",
        description="Say how a text will be sent: the cheapest exact encoding (GSM 7-bit, else "
        "UCS2), its data_coding, the number of parts and the units in each (septets for gsm7, "
        "octets for ascii/latin1, UTF-16 code units for ucs2). Exit 1 past 255 parts.",
    )
    segments.add_argument("text", help="the message text, quoted")
    segments.add_argument("--json", action="store_true", help="print one JSON object")
    segments.add_argument(
        "--udh",
        choices=["8", "16", "sar", "payload"],
        default="8",
        help="how long messages are sent: UDH with an 8-bit (default) or 16-bit reference, "
        "SAR TLVs, or one message_payload (counted as the SMSC will cut it)",
    )
    segments.set_defaults(func=_cmd_segments)

    from .fakesmsc.main import add_parser as add_fakesmsc

    add_fakesmsc(sub)

    from .daemon.server import add_parser as add_serve
    from .daemon.top import add_parser as add_top

    add_serve(sub)
    add_top(sub)

    bench = sub.add_parser(
        "bench",
        help="load-test the engine against the fake SMSC (own process) or any SMPP server",
        description="Send a scenario through the engine, with live progress and a summary: "
        "throughput, client CPU per message, submit latency from the intended send time, "
        "receipts matched and errors. Exit 1 if any message failed or did not finish.",
    )
    _bench_arguments(bench)
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
