"""The daemon's process: ``smsengine serve --config FILE`` (or ``--demo``).

Start: open the outbox, recover what an earlier run left, start the engine, listen. SIGTERM or
SIGINT: new requests get 503; requests in flight have ``shutdown_timeout`` to finish; the
feeder stops, submits in flight get the rest of the time for their answers, then the HTTP server
closes; what is still queued stays in the outbox for the next start.

``--demo`` runs the same daemon against a fake SMSC in the same process, with a fresh store
and API key, two templates (``login``, an OTP whose code is masked at rest, and ``sale``, a
marketing text), quiet hours off, and prints curl commands to try it: a templated code, its
status, a CSV campaign and its progress.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .._args import port as port_type
from ..engine import EngineConfigError
from ..engine.sqlite import StoreError
from ..policy import Template
from .app import make_app
from .auth import Keyring
from .config import DaemonConfig, DaemonConfigError, daemon_config_from_dict, load_daemon_config
from .gateway import Gateway
from .listener import Limits, raise_fd_limit, tls_context

__all__ = ["add_parser", "serve"]

log = logging.getLogger("smsengine.daemon")

#: The exit status of a stop whose last commit failed (a full disk): stopped, but the last
#: state could not be saved (README, the daemon). 1 is an unexpected error, 2 a start refused.
EXIT_NOT_SAVED = 3

# Attributes every LogRecord has; anything else on a record was passed in ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's extras
    (request_id, status, ms…)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


async def serve(config: DaemonConfig, *, ready: asyncio.Event | None = None,
                announce: Any = None, templates: tuple[Template, ...] = ()) -> int:
    """Run the daemon until SIGTERM/SIGINT; 0 on a clean stop. ``templates`` are created at
    start (the demo's)."""
    keyring = Keyring(config.keys())
    gateway = Gateway(config)
    await gateway.start()
    for template in templates:
        assert gateway.templates is not None
        if gateway.templates.get(template.name) is None:
            gateway.templates.create(template, gateway.now())
    app, api = make_app(config, gateway, keyring)
    # The port's limits (timeouts, connection caps, head size) and TLS: listener.py.
    limits = Limits(config.server, gateway.registry)
    app.middlewares.insert(0, limits.middleware)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           **limits.runner_options())
    await runner.setup()
    assert runner.server is not None
    raise_fd_limit(config.server)
    try:
        bound = await limits.listen(runner.server, config.server.host, config.server.port,
                                    tls_context(config.server))
    except (OSError, DaemonConfigError) as exc:
        await runner.cleanup()
        await gateway.stop(1.0)
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        print(f"smsengine serve: cannot listen on {config.server.host}:{config.server.port}: "
              f"{reason}", file=sys.stderr)
        return 2
    # The handlers before the line: whoever waits for it may send SIGTERM at once (the chaos
    # runner did, and the daemon died of it instead of stopping).
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheme = "https" if config.server.tls_cert else "http"
    print(f"smsengine serve listening on {scheme}://{config.server.host}:{bound}", flush=True)
    if announce is not None:
        announce(bound)
    if ready is not None:
        ready.set()
    await stop.wait()
    started = loop.time()
    budget = config.server.shutdown_timeout
    log.info("shutting down: new requests get 503; draining %d in flight", api.in_flight)
    # The port stays open meanwhile, answering 503 with Retry-After, so a client (or a load
    # balancer) hears that this node is going, rather than finding the port closed.
    api.draining = True
    gateway.stop_feeding()
    while api.in_flight and loop.time() - started < budget:
        await asyncio.sleep(0.02)
    saved = await gateway.stop(max(0.5, budget - (loop.time() - started)))
    limits.close()
    await runner.cleanup()
    log.info("stopped")
    print("smsengine serve stopped", flush=True)
    return 0 if saved else EXIT_NOT_SAVED


# --- the demo ------------------------------------------------------------------------------------

def _demo_config(smsc_port: int, store: str, key: str) -> DaemonConfig:
    from ..demo import PASSWORD, SYSTEM_ID

    return daemon_config_from_dict({
        "channels": [{"name": "demo", "host": "127.0.0.1", "port": smsc_port,
                      "system_id": SYSTEM_ID, "password": PASSWORD, "transceivers": 2,
                      "default_source": "SHOP"}],
        "server": {"host": "127.0.0.1", "port": 0},
        "store": {"path": store},
        "api_keys": [{"name": "demo", "key": key, "scopes": ["send", "read", "admin"],
                      "sign_name": "ShopCN"}],
        "policy": {"quiet_hours": {"enabled": False}},
    })


_DEMO_TEMPLATES = (
    Template(name="login", kind="otp", text="Your code is ${code}. It expires in 5 minutes.",
             max_parts=1),
    Template(name="sale", kind="marketing", text="Hi ${name}, everything is 50% off today."),
)


async def _demo(port: int) -> int:
    from ..demo import PASSWORD, SYSTEM_ID
    from ..fakesmsc import FakeSMSC, config_from_dict

    smsc = FakeSMSC(config_from_dict({
        "accounts": [{"system_id": SYSTEM_ID, "password": PASSWORD,
                      "bind_modes": ["transceiver"], "max_binds": 4}],
        "receipts": {"delay": {"kind": "uniform", "low": 0.5, "high": 2.0}},
    }))
    await smsc.start()
    key = "demo-" + secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="smsengine-demo-") as folder:
        config = _demo_config(smsc.port, str(Path(folder) / "outbox.db"), key)
        if port:
            import msgspec

            config = msgspec.structs.replace(
                config, server=msgspec.structs.replace(config.server, port=port))

        def announce(bound: int) -> None:
            base = f"http://127.0.0.1:{bound}"
            auth = f'-H "Authorization: Bearer {key}"'
            print(f"""
fake SMSC on 127.0.0.1:{smsc.port} (receipts after 0.5-2 s); outbox {config.store.path}
API key: {key}

Send a login code from the template "login" (the code is masked in the store, the status
and the logs; a second code to the same number within a minute is refused, 429):
  curl -s {auth} -H 'Content-Type: application/json' \\
    -d '{{"to": "8613800138000", "template": "login", "params": {{"code": "402113"}}}}' \\
    {base}/v1/messages

Its status (put the id from the answer in place of ID):
  curl -s {auth} {base}/v1/messages/ID

A campaign from a CSV (template "sale", one recipient a line), then its progress (put the
id from the answer in place of CID):
  printf 'to,name\\n8613800138001,Li\\n8613800138002,Wang\\n' | curl -s {auth} \\
    -H 'Content-Type: text/csv' --data-binary @- '{base}/v1/campaigns?template=sale'
  curl -s {auth} {base}/v1/campaigns/CID

The operator console (log in with the API key above): {base}/console/
API description: {base}/openapi.json   Stop with Ctrl-C.
""", flush=True)

        try:
            return await serve(config, announce=announce, templates=_DEMO_TEMPLATES)
        finally:
            await smsc.stop()


# --- the command ---------------------------------------------------------------------------------

def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "serve", help="run the daemon: an HTTP API over a durable outbox",
        description="Run smsengine as a service: POST messages over HTTP, query their status. "
                    "Accepted messages are kept in a SQLite outbox and survive a crash.")
    parser.add_argument("--config", metavar="FILE", help="the daemon's TOML config "
                        "(see examples/smsengine.toml)")
    parser.add_argument("--demo", action="store_true",
                        help="run against a built-in fake SMSC with a fresh key and store")
    parser.add_argument("--port", type=port_type, default=None,
                        help="listen on this port instead of the config's [server] port")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="json: one JSON object per line, with a request id per request")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))
    parser.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    _logging(args.log_format, args.log_level)
    if args.demo:
        return _run(_demo(args.port or 0))
    if not args.config:
        print("smsengine serve: give --config FILE (or --demo)", file=sys.stderr)
        return 2
    try:
        config = load_daemon_config(args.config)
        config.keys()  # (a missing key variable is a config error, named now)
        tls_context(config.server)  # (a bad certificate or key: named now, before the store)
    except (DaemonConfigError, EngineConfigError) as exc:
        print(f"smsengine serve: {exc}", file=sys.stderr)
        return 2
    if args.port is not None:
        import msgspec

        config = msgspec.structs.replace(
            config, server=msgspec.structs.replace(config.server, port=args.port))
    try:
        return _run(serve(config))
    except StoreError as exc:
        print(f"smsengine serve: {exc}", file=sys.stderr)
        return 2


def _run(coro: Any) -> int:
    with contextlib.suppress(ImportError):
        import uvloop

        if os.environ.get("SMSENGINE_NO_UVLOOP") != "1":
            return int(uvloop.run(coro))
    return int(asyncio.run(coro))
