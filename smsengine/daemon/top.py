"""``smsengine top --url http://host:8080``: a live terminal view of a running daemon (rich).

It reads ``GET /v1/overview`` once a second (an API key with the read scope, from ``--key``
or the ``SMSENGINE_KEY`` environment variable) and shows rates (from the counters' deltas),
the outbox, each channel's binds, AIMD rate, lanes and window, and each webhook's backlog.
``--once`` prints one snapshot and exits (for scripts, and tests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import aiohttp
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

__all__ = ["add_parser", "render"]


def _rate(now: dict[str, Any], before: dict[str, Any] | None, *path: str) -> float:
    if before is None:
        return 0.0

    def dig(d: dict[str, Any]) -> float:
        for key in path:
            d = d.get(key, {}) if isinstance(d, dict) else {}
        return float(d) if isinstance(d, int | float) else 0.0

    span = max(1e-6, float(now["time"]) - float(before["time"]))
    return max(0.0, (dig(now) - dig(before)) / span)


def render(now: dict[str, Any], before: dict[str, Any] | None, url: str) -> Group:
    """The view of one overview (and the one before it, for rates)."""
    counters = now["counters"]
    head = Table.grid(padding=(0, 3))
    head.add_row(
        f"[bold]smsengine[/] {url}",
        f"open {now['open']:,}",
        f"accepted {counters.get('accepted', 0):,} "
        f"({_rate(now, before, 'counters', 'accepted'):,.0f}/s)",
        f"events {now['events']:,}",
    )
    channels = Table(title="channels", expand=True)
    for column in ("channel", "binds", "rate", "flow", "queued", "lanes", "in flight",
                   "submitted/s", "delivered (receipts)", "throttled", "failed", "unknown"):
        channels.add_column(column)
    for name, c in now["engine"]["channels"].items():
        lanes = " ".join(f"{k}:{v:,}" for k, v in c.get("lanes", {}).items())
        channels.add_row(
            name, f"{c['bound']}/{c['binds']}",
            "-" if c.get("rate") is None else f"{c['rate']:,.0f}/s", str(c.get("flow", "")),
            f"{c.get('queued', 0):,}", lanes, str(c.get("in_flight", 0)),
            f"{_rate(now, before, 'engine', 'channels', name, 'submitted'):,.0f}",
            f"{c.get('receipts_matched', 0):,}", f"{c.get('throttled', 0):,}",
            f"{c.get('failed', 0):,}", f"{c.get('unknown', 0):,}")
    hooks = Table(title="webhooks", expand=True)
    for column in ("webhook", "backlog", "state"):
        hooks.add_column(column)
    for name, w in now["webhooks"].items():
        hooks.add_row(name, f"{w['backlog']:,}", "disabled (410)" if w["disabled"] else "on")
    backlog = ", ".join(f"{k} {v:,}" for k, v in now["backlog"].items() if v) or "none"
    return Group(head, f"waiting in the outbox: {backlog}", channels, hooks)


async def _overview(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url.rstrip("/") + "/v1/overview") as resp:
        if resp.status != 200:
            raise RuntimeError(f"GET /v1/overview: HTTP {resp.status}: {await resp.text()}")
        data: dict[str, Any] = await resp.json()
        return data


async def _top(url: str, key: str, once: bool, interval: float) -> int:
    console = Console()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"},
                                     timeout=aiohttp.ClientTimeout(total=5)) as http:
        try:
            now = await _overview(http, url)
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            print(f"smsengine top: {url}: {exc}", file=sys.stderr)
            return 2
        if once:
            console.print(render(now, None, url))
            return 0
        before = None
        with Live(render(now, None, url), console=console, refresh_per_second=2) as live:
            while True:
                await asyncio.sleep(interval)
                before = now
                try:
                    now = await _overview(http, url)
                except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
                    live.console.print(f"[red]{exc}[/]")
                    now = before
                    continue
                live.update(render(now, before, url))


def _cmd_top(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("SMSENGINE_KEY", "")
    if not key:
        print("smsengine top: give --key or set SMSENGINE_KEY (a key with the read scope)",
              file=sys.stderr)
        return 2
    try:
        return asyncio.run(_top(args.url, key, args.once, args.interval))
    except KeyboardInterrupt:
        return 0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("top", help="a live view of a running smsengine serve",
                            description="Rates, outbox, binds, lanes and webhook backlogs of a "
                                        "running daemon, refreshed every second.")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the daemon's address")
    parser.add_argument("--key", default="", help="an API key with the read scope "
                        "(or SMSENGINE_KEY)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between reads")
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit")
    parser.set_defaults(func=_cmd_top)
