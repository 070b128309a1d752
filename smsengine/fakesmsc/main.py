"""``smsengine fakesmsc``: run the fake SMSC in the foreground, with an optional admin API.

``--protocol cmpp`` (or ``protocol = "cmpp"`` in the config) runs the fake CMPP ISMG instead,
on port 7890 by default; ``--cmpp-version`` sets the highest CMPP version it speaks.
``--protocol sgip`` runs the fake SGIP 1.2 SMG (port 8801), ``--protocol smgp`` the fake SMGP
3.0 SMGW (port 8890). The admin API is the same; ``/mo`` takes the Msg_Fmt as ``data_coding``
and ``unbind`` sends TERMINATE. ``--tls-cert FILE [--tls-key FILE]`` serves TLS on the
carrier port (the admin API stays plain HTTP).

The admin API (aiohttp, on ``--admin-port``) lets a person or a script drive the running SMSC:

- ``GET /stats``, ``GET /binds``, ``GET /ledger`` (JSON lines)
- ``POST /mo`` ``{"source_addr", "destination_addr", "text" | "hex", "data_coding"?, "account"?}``
- ``POST /fault`` ``{"kind": "drop" | "stall" | "resume" | "garbage" | "unbind" |
  "refuse_binds" | "restart" | "drop_after_pdus", …}``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import math
import signal
import sys
from dataclasses import asdict
from typing import Any

import msgspec

from .._args import port
from .config import Config, ConfigError, config_from_dict, load_config
from .ismg import FakeISMG
from .server import FakeSMSC

__all__ = ["add_parser", "run"]

# What ``--help`` says of the admin API; tests/fakesmsc/test_main_help.py checks that every
# route _start_admin serves, and every fault kind, is in it.
ADMIN_API_HELP = """\
admin API (HTTP on --admin-port; JSON bodies and answers):
  GET  /stats   counters (connections, binds, pdus_in, pdus_out, throttled,
                receipts_sent, mo_sent, faults_dropped, restarts,
                connections_evicted, pre_bind_timeouts, idle_timeouts,
                read_timeouts, ...), and ledger (its size) and ledger_dropped
  GET  /binds   the live binds: [{"bind_id", "account", "mode", "peer"}, ...]
  GET  /ledger  every message accepted, one JSON object a line (x-ndjson):
                time, account, message_id, source_addr, destination_addr,
                data_coding, segment (ref, total, seqnum), payload_digest, ...
  POST /mo      send an MO message to a bound receiver or transceiver (long
                text goes in parts): {"source_addr", "destination_addr",
                "text" or "hex", "data_coding"? (CMPP: Msg_Fmt), "account"?}
                -> {"parts", "statuses" (each part's response), "ok"}
  POST /fault   inject a fault: {"kind": KIND, ...} -> {"kind", "result"}
      drop             close connections abruptly, no unbind ("account"?)
      stall            stop answering ("mode": "answer", the default) or
                       stop reading ("mode": "read")
      resume           end a stall
      garbage          write bytes that are not SMPP/CMPP ("hex"?: deadbeef)
      unbind           unbind every client (CMPP: TERMINATE)
      refuse_binds     refuse binds for "seconds" (ESME_RBINDFAIL; CMPP
                       CONNECT_RESP Status 5)
      restart          lose every bind and stop listening for "down_for"?
                       seconds; the ledger and pending receipts survive
      drop_after_pdus  close each connection after "count" PDUs (0: off)
  A bad body is answered 400 with {"error"}.

examples:
  smsengine fakesmsc --admin-port 8080 &
  curl -s localhost:8080/stats
  curl -s localhost:8080/mo -d '{"source_addr": "8613800138000",
      "destination_addr": "106900012345", "text": "TD"}'
  curl -s localhost:8080/fault -d '{"kind": "stall", "mode": "read"}'
"""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "fakesmsc",
        help="run the bundled fake SMSC (an SMPP server, CMPP ISMG, SGIP SMG or SMGP SMGW for "
        "tests and load runs)",
        description="Run the fake SMSC in the foreground until SIGINT/SIGTERM; on shutdown it\n"
        "unbinds its clients. With no --config it accepts any credentials (open mode).",
        epilog=ADMIN_API_HELP,
        # (keeps the epilog's table, and so the description's lines, as written)
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port, default=None,
                        help="port (default 2775 for SMPP, 7890 for CMPP, 8801 for SGIP, 8890 "
                        "for SMGP; 0: pick a free one)")
    parser.add_argument("--protocol", choices=("smpp", "cmpp", "sgip", "smgp"), default=None,
                        help="smpp (the default), cmpp: a CMPP 2.0/3.0 ISMG, sgip: an SGIP "
                        "1.2 SMG, smgp: an SMGP 3.0 SMGW; overrides the config's protocol")
    parser.add_argument("--cmpp-version", choices=("3.0", "2.0"), default=None,
                        help="highest CMPP version the ISMG speaks (default 3.0); clients "
                        "asking less get theirs")
    parser.add_argument("--config", help="TOML config file (accounts, receipts, faults, …)")
    limits = parser.add_argument_group(
        "limits on clients", "override the config's; a timeout of 0 turns it off")
    limits.add_argument("--max-connections", type=_count, default=None, metavar="N",
                        help="connections in all (default 256); a newcomer at the cap evicts "
                        "the oldest connection not bound yet, or is refused if all are bound")
    limits.add_argument("--max-connections-per-address", type=_count, default=None,
                        metavar="N", help="connections from one remote address (default 128), "
                        "the same way")
    limits.add_argument("--pre-bind-timeout", type=_seconds, default=None, metavar="S",
                        help="close a connection not bound (CMPP: connected) after S seconds "
                        "(default 10)")
    limits.add_argument("--idle-timeout", type=_seconds, default=None, metavar="S",
                        help="close a connection no PDU came from for S seconds (default 300; "
                        "config: enquire_link_timeout)")
    limits.add_argument("--read-timeout", type=_seconds, default=None, metavar="S",
                        help="close a connection whose PDU is still incomplete after S seconds "
                        "(default 10)")
    tls = parser.add_argument_group("TLS", "serve TLS instead of plain TCP (overrides the "
                                    "config's tls_cert / tls_key)")
    tls.add_argument("--tls-cert", default=None, metavar="FILE",
                     help="the server's certificate chain (PEM)")
    tls.add_argument("--tls-key", default=None, metavar="FILE",
                     help="its private key (PEM, unencrypted); default: in --tls-cert's file")
    parser.add_argument("--admin-port", type=port, default=None,
                        help="also serve the HTTP admin API on this port (0: pick one)")
    parser.add_argument("--no-uvloop", action="store_true", help="use the stock asyncio loop")
    parser.set_defaults(func=run)


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


#: Command-line options that override a top-level config field, and the field.
_LIMIT_FIELDS = {
    "max_connections": "max_connections",
    "max_connections_per_address": "max_connections_per_address",
    "pre_bind_timeout": "pre_bind_timeout",
    "idle_timeout": "enquire_link_timeout",
    "read_timeout": "read_timeout",
    "tls_cert": "tls_cert",
    "tls_key": "tls_key",
}


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else Config()
        limits = {field: getattr(args, option, None) for option, field in _LIMIT_FIELDS.items()}
        config = _overridden(config, args.protocol, args.cmpp_version,
                             {k: v for k, v in limits.items() if v is not None})
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    port = args.port
    if port is None:
        port = DEFAULT_PORTS[config.protocol]
    return asyncio.run(_serve(config, args.host, port, args.admin_port))


#: Where each protocol's fake listens by default.
DEFAULT_PORTS = {"smpp": 2775, "cmpp": 7890, "sgip": 8801, "smgp": 8890}
_CREDENTIALS = {"smpp": "system_id/password", "cmpp": "Source_Addr/secret",
                "sgip": "Login Name/Password", "smgp": "ClientID/secret"}


def _server_class(protocol: str) -> Any:
    """The fake of ``protocol``; SGIP's and SMGP's are imported only when asked for."""
    if protocol == "cmpp":
        return FakeISMG
    if protocol == "sgip":
        from .smg import FakeSMG  # type: ignore[import-not-found,unused-ignore]

        return FakeSMG
    if protocol == "smgp":
        from .smgw import FakeSMGW

        return FakeSMGW
    return FakeSMSC


def _overridden(config: Config, protocol: str | None, cmpp_version: str | None,
                fields: dict[str, Any] | None = None) -> Config:
    """The config with the command line's --protocol / --cmpp-version and top-level
    ``fields`` (the limits), validated again."""
    if protocol is None and cmpp_version is None and not fields:
        return config
    data = msgspec.to_builtins(config)
    data.update(fields or {})
    if protocol is not None:
        data["protocol"] = protocol
    if cmpp_version is not None:
        data["cmpp"]["version"] = cmpp_version
    return config_from_dict(data)


async def _serve(config: Config, host: str, port: int, admin_port: int | None) -> int:
    cmpp = config.protocol == "cmpp"
    smsc = _server_class(config.protocol)(config, host=host, port=port)
    try:
        await smsc.start()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    if config.open_mode:
        who = _CREDENTIALS[config.protocol]
        print(f"WARNING: open mode — no accounts configured, ANY {who} is accepted",
              file=sys.stderr, flush=True)
    runner = None
    if admin_port is not None:
        try:
            runner, admin_port = await _start_admin(smsc, host, admin_port)
        except OSError as exc:
            print(f"error: cannot serve the admin API on {host}:{admin_port}: {exc}",
                  file=sys.stderr)
            await smsc.stop()
            return 1
        print(f"fakesmsc admin API on http://{host}:{admin_port}", flush=True)
    # The ledger keeps every accepted message; objects made at start-up never die. Freezing them
    # and collecting the young generation less often keeps the cyclic collector from rescanning
    # what can never be garbage (measured: ~2 µs per message with receipts).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    if cmpp:
        print(f"fakesmsc speaks CMPP up to {config.cmpp.version}, gateway code "
              f"{config.cmpp.gateway_code}", flush=True)
    print(f"fakesmsc listening on {smsc.address}{' (TLS)' if config.tls_cert else ''}",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("fakesmsc: unbinding clients and stopping", flush=True)
    if runner is not None:
        await runner.cleanup()
    await smsc.stop()
    return 0


async def _start_admin(smsc: FakeSMSC, host: str, port: int) -> tuple[Any, int]:
    from aiohttp import web

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({**smsc.stats, "ledger": len(smsc.ledger),
                                  "ledger_dropped": smsc.ledger.dropped})

    async def binds(_: web.Request) -> web.Response:
        return web.json_response([asdict(b) for b in smsc.binds])

    async def ledger(_: web.Request) -> web.Response:
        out = io.StringIO()
        smsc.ledger.dump_jsonl(out)
        return web.Response(text=out.getvalue(), content_type="application/x-ndjson")

    async def mo(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            data = bytes.fromhex(body["hex"]) if "hex" in body else None
            result = await smsc.inject_mo(
                body["source_addr"], body["destination_addr"], body.get("text"), data=data,
                data_coding=body.get("data_coding"), account=body.get("account"),
            )
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
        return web.json_response({"parts": result.parts, "statuses": result.statuses,
                                  "ok": result.ok})

    async def fault(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            kind = body["kind"]
            done: Any = None
            if kind == "drop":
                done = smsc.drop_connections(body.get("account"))
            elif kind == "stall":
                smsc.stall(body.get("mode", "answer"))
            elif kind == "resume":
                smsc.resume()
            elif kind == "garbage":
                done = smsc.send_garbage(bytes.fromhex(body.get("hex", "deadbeef")))
            elif kind == "unbind":
                await smsc.unbind_all()
            elif kind == "refuse_binds":
                smsc.refuse_binds(float(body["seconds"]))
            elif kind == "restart":
                await smsc.restart(float(body.get("down_for", 0)))
            elif kind == "drop_after_pdus":
                smsc.drop_after_pdus(int(body["count"]))
            else:
                raise ValueError(f"unknown fault kind {kind!r}")
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
        return web.json_response({"kind": kind, "result": done})

    app = web.Application()
    app.add_routes([
        web.get("/stats", stats), web.get("/binds", binds), web.get("/ledger", ledger),
        web.post("/mo", mo), web.post("/fault", fault),
    ])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(bound)


