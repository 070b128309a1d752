"""``smsengine top``: one snapshot of a running daemon (``--once``), and its refusals."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from smsengine.daemon.top import render
from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import KEY, daemon, daemon_config


async def _top(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "top", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_top_shows_the_channels_and_the_outbox(smsc: FakeSMSC, tmp_path: Path) -> None:
    async with daemon(daemon_config(tmp_path, smsc.port)) as gw:
        message_id = await gw.send(to="8613800138000", text="hi")
        await gw.until(message_id, lambda m: m["final"])
        status, overview, _ = await gw.request("GET", "/v1/overview")
        assert status == 200 and overview["counters"]["accepted"] == 1
        assert overview["engine"]["channels"]["main"]["bound"] == 2
        code, out, _ = await _top("--once", "--url", gw.base, "--key", KEY)
        assert code == 0 and "main" in out and "2/2" in out and "accepted 1" in out
        code, _, err = await _top("--once", "--url", gw.base, "--key", "wrong-key-0123456789")
        assert code == 2 and "401" in err
    code, _, err = await _top("--once", "--url", "http://127.0.0.1:9", "--key", KEY)
    assert code == 2 and "127.0.0.1:9" in err


def test_rates_come_from_the_counters_deltas() -> None:
    def overview(at: float, accepted: int) -> dict[str, object]:
        return {"time": at, "open": 0, "backlog": {}, "counters": {"accepted": accepted},
                "engine": {"channels": {}}, "webhooks": {}, "events": 0}

    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(render(overview(11.0, 500), overview(10.0, 100), "x"))
    assert "accepted 500 (400/s)" in console.export_text()
