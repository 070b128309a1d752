"""The daemon's process: SIGTERM drains (503 meanwhile, what is queued stays in the outbox for
the next start, nothing sent twice), JSON log lines with a request id, ``--demo``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from smsengine.fakesmsc import FakeSMSC, config_from_dict
from tests._support.daemon_process import KEY, daemon, daemon_config
from tests._support.services import unavailable


async def test_sigterm_drains_answers_503_and_keeps_the_queue(tmp_path: Path) -> None:
    # A carrier answering after 1 s with a window of 4: most of 200 messages are still queued
    # when SIGTERM comes.
    slow = FakeSMSC(config_from_dict({"latency": {"kind": "fixed", "value": 1.0}}))
    await slow.start()
    try:
        config = daemon_config(tmp_path, slow.port, channel="window = 2",
                               top="")
        async with daemon(config) as gw:
            status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": [
                {"to": f"86135{n:08d}", "text": f"notice {n}"} for n in range(200)]})
            assert status == 202
            ids = [m["id"] for m in body["messages"]]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while not len(slow.ledger):
                assert loop.time() < deadline
                await asyncio.sleep(0.02)
            gw.proc.send_signal(15)
            refused = None
            late = 0  # (accepted before the signal was handled: sent like the others)
            while refused is None:
                status, problem, headers = await gw.request(
                    "POST", "/v1/messages", json={"to": f"86136{late:08d}", "text": "late"})
                if status == 503:
                    refused = (problem, headers)
                else:
                    assert status == 202
                    ids.append(problem["id"])
                    late += 1
            assert refused[0]["type"].endswith("shutting-down")
            assert refused[1]["Retry-After"]
            assert await asyncio.wait_for(gw.proc.wait(), 20) == 0
        sent_before = len(slow.ledger)
        assert 0 < sent_before < 200
    finally:
        await slow.stop()
    fast = FakeSMSC()
    await fast.start()
    try:
        async with daemon(daemon_config(tmp_path, fast.port)) as gw:
            for message_id in ids:
                m = await gw.until(message_id, lambda m: m["final"], timeout=20)
                assert m["state"] in ("delivered", "unknown"), m
        # Nothing twice: each number reached a carrier once, across the two.
        numbers = [e.destination_addr for e in [*slow.ledger, *fast.ledger]]
        assert sorted(numbers) == sorted(set(numbers)) and len(numbers) == 200 + late
        assert f"86136{late:08d}" not in numbers  # (the one refused with 503)
    finally:
        await fast.stop()


async def test_json_logs_carry_a_request_id(smsc: FakeSMSC, tmp_path: Path) -> None:
    async with daemon(daemon_config(tmp_path, smsc.port), "--log-format", "json") as gw:
        status, _, headers = await gw.request("GET", "/v1/messages/nope-1",
                                              headers={"X-Request-Id": "trace-42"})
        assert status == 404 and headers["X-Request-Id"] == "trace-42"
        status, _, headers = await gw.request("GET", "/v1/messages?limit=1")
        generated = headers["X-Request-Id"]
        assert await gw.terminate() == 0
    lines = [json.loads(line) for line in gw.log if line.startswith("{")]
    # A clean run and a clean stop: nothing logged as an error (a store closed before its
    # last flush, say).
    assert [e["message"] for e in lines if e["level"] == "error"] == []
    assert len(lines) == len([line for line in gw.log if line.strip()])  # every line is JSON
    requests = [e for e in lines if e["logger"] == "smsengine.http"]
    assert {"trace-42", generated} <= {e["request_id"] for e in requests}
    mine = next(e for e in requests if e["request_id"] == "trace-42")
    assert mine["status"] == 404 and mine["path"] == "/v1/messages/nope-1"
    assert mine["principal"] == "admin" and KEY not in json.dumps(lines)


async def test_the_demo_prints_a_key_and_curl_commands_that_work() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "serve", "--demo", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        text = ""
        while "Stop with Ctrl-C" not in text:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, f"the demo exited: {text}"
            text += line
        key = re.search(r"API key: (\S+)", text)
        base = re.search(r"(http://127\.0\.0\.1:\d+)/v1/messages", text)
        # A templated code, its status, a CSV campaign and its progress.
        assert key and base and text.count("curl ") == 4
        assert f"{base.group(1)}/console/" in text  # (and the console, which serves it)
        async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {key.group(1)}"}) as http:
            code = {"to": "8613800138000", "template": "login", "params": {"code": "402113"}}
            async with http.post(base.group(1) + "/v1/messages", json=code) as resp:
                assert resp.status == 202
                message_id = (await resp.json())["id"]
            async with http.post(base.group(1) + "/v1/messages", json=code) as resp:
                assert resp.status == 429 and resp.headers["Retry-After"]
            async with http.post(base.group(1) + "/v1/campaigns?template=sale",
                                 data=b"to,name\n8613800138001,Li\n8613800138002,Wang\n",
                                 headers={"Content-Type": "text/csv"}) as resp:
                assert resp.status == 201
                campaign_id = (await resp.json())["id"]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while True:
                async with http.get(f"{base.group(1)}/v1/messages/{message_id}") as resp:
                    m = await resp.json()
                async with http.get(f"{base.group(1)}/v1/campaigns/{campaign_id}") as resp:
                    c = await resp.json()
                if m["state"] == "delivered" and c["progress"]["delivered"] == 2:
                    break
                assert loop.time() < deadline, (m, c)
                await asyncio.sleep(0.1)
            assert "402113" not in m["text"] and m["text"].startswith("【ShopCN】")
            async with http.get(base.group(1) + "/console/") as resp:
                assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_sigterm_at_once_after_the_listening_line_is_a_clean_stop(tmp_path: Path) -> None:
    """The line is printed once SIGTERM is handled: a supervisor (or the chaos runner, which
    found it) may stop the daemon the moment it reads it. Before, SIGTERM in that gap killed
    it (exit -15, no drain); a race, so tried a few times."""
    async with FakeSMSC() as smsc:
        config = daemon_config(tmp_path, smsc.port)
        for _ in range(3):
            async with daemon(config) as gw:
                assert await gw.terminate() == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (skipped where one cannot be mounted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        unavailable("the full-disk test", f"mount tmpfs failed: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """A file taking every octet left on ``disk``."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096, 512):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


async def test_sigterm_on_a_full_disk_exits_3_with_a_logged_error(small_disk: Path) -> None:
    """SIGTERM while the store's disk is full: the last commit fails. It exited 1 with a
    traceback; now an ERROR line says what could not be saved and the exit status is 3
    (stopped, the last state not saved; README)."""
    slow = FakeSMSC(config_from_dict({"latency": {"kind": "fixed", "value": 0.5}}))
    await slow.start()
    try:
        async with daemon(daemon_config(small_disk, slow.port)) as gw:
            status, _, _ = await gw.request("POST", "/v1/messages", json={"messages": [
                {"to": f"86135{n:08d}", "text": f"notice {n}"} for n in range(5)]})
            assert status == 202
            _fill(small_disk)  # (their moves, once the carrier answers, cannot be written)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while len(slow.ledger) < 5:
                assert loop.time() < deadline
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
            code = await gw.terminate()
            log = "".join(gw.log)
    finally:
        await slow.stop()
    assert code == 3, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert re.search(r"ERROR smsengine\.daemon: .*could not be saved", log), log[-3000:]


async def test_nothing_reaches_the_carrier_while_the_store_cannot_commit(
        small_disk: Path) -> None:
    """The write barrier holds while commits fail: a bind whose before_write commit fails
    writes nothing (no submit, no deliver_sm_resp) until a commit works. Ten messages, a
    carrier answering after 0.3 s through a window of 1; the disk fills after the first is
    sent: none of the rest reaches the carrier's ledger while it is full (all but the first
    did before), all ten do once space is back."""
    slow = FakeSMSC(config_from_dict({"latency": {"kind": "fixed", "value": 0.3}}))
    await slow.start()
    try:
        config = daemon_config(small_disk, slow.port, channel="window = 1")
        async with daemon(config) as gw:
            status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": [
                {"to": f"86135{n:08d}", "text": f"notice {n}"} for n in range(10)]})
            assert status == 202
            ids = [m["id"] for m in body["messages"]]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while not len(slow.ledger):
                assert loop.time() < deadline
                await asyncio.sleep(0.005)
            filler = _fill(small_disk)
            at_full = len(slow.ledger)
            await asyncio.sleep(1.5)
            while_full = len(slow.ledger)
            filler.unlink()
            for message_id in ids:
                m = await gw.until(message_id, lambda m: m["final"], timeout=20)
                assert m["state"] == "delivered", m
            log = "".join(gw.log)
            assert await gw.terminate() == 0
    finally:
        await slow.stop()
    assert while_full <= at_full + 1, (at_full, while_full, log[-3000:])  # (one in the pipe)
    assert "outbox commit failed" in log
    numbers = [e.destination_addr for e in slow.ledger]
    assert sorted(numbers) == sorted(set(numbers)) and len(numbers) == 10
