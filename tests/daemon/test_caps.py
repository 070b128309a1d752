"""Frequency caps and quiet hours (issue 19), end to end on a controllable clock: the daemon's
test hook SMSENGINE_TEST_CLOCK_FILE holds seconds added to its wall clock."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import Daemon, daemon, daemon_config


class Clock:
    """The file the daemon reads its clock offset from."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "clock"
        self.offset = 0.0
        self._stamp = time.time_ns()
        self.set(0.0)

    def set(self, offset: float) -> None:
        self.offset = offset
        self.path.write_text(repr(offset))
        self._stamp += 1_000_000  # (a new mtime each time, however fast the writes)
        os.utime(self.path, ns=(self._stamp, self._stamp))

    def advance(self, seconds: float) -> None:
        self.set(self.offset + seconds)

    @property
    def env(self) -> dict[str, str]:
        return {"SMSENGINE_TEST_CLOCK_FILE": str(self.path)}


async def _otp(gw: Daemon, to: str) -> tuple[int, dict[str, object], object]:
    status, body, headers = await gw.request("POST", "/v1/messages", json={
        "to": to, "text": "您的验证码是123456", "kind": "otp"})
    return status, body, headers


async def test_otp_caps_hit_freed_and_surviving_a_restart(smsc: FakeSMSC,
                                                          tmp_path: Path) -> None:
    clock = Clock(tmp_path)
    config = daemon_config(tmp_path, smsc.port,
                           policy="[policy.source_ip_caps]\notp = [[60, 4]]\n"
                                  "[policy.quiet_hours]\nenabled = false")
    async with daemon(config, env=clock.env) as gw:
        status, _, _ = await _otp(gw, "8613800138200")
        assert status == 202
        # The same number written with a + is the same subject.
        status, problem, headers = await _otp(gw, "+8613800138200")
        assert status == 429 and problem["rule"] == "1 per minute"
        assert 55 <= int(headers["Retry-After"]) <= 60
        assert problem["retry_after"] == int(headers["Retry-After"])
        assert "per minute" in problem["detail"] and problem["errors"][0]["field"] == "to"
        # In a batch: a refusal per message, code capped, the others go.
        status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": [
            {"to": "8613800138201", "text": "code 1", "kind": "otp"},
            {"to": "8613800138201", "text": "code 2", "kind": "otp"},
            {"to": "8613800138202", "text": "notice", "kind": "notification"}]})
        assert status == 202 and body["accepted"] == 2
        capped = body["messages"][1]["error"]
        assert capped["code"] == "capped" and capped["field"] == "messages[1].to"
        assert capped["rule"] == "1 per minute" and capped["retry_after"] > 0
        # Freed a minute later; 5 an hour.
        for _ in range(4):
            clock.advance(61)
            status, _, _ = await _otp(gw, "8613800138200")
            assert status == 202
        clock.advance(61)
        status, problem, headers = await _otp(gw, "8613800138200")
        assert status == 429 and problem["rule"] == "5 per hour"
        assert int(headers["Retry-After"]) > 3000
        # The source IP's cap: 4 codes a minute from one client, whatever the numbers.
        clock.advance(61)
        for n in range(4):
            assert (await _otp(gw, f"86138001383{n:02d}"))[0] == 202
        status, problem, _ = await _otp(gw, "8613800138399")
        assert status == 429 and "source ip" in problem["detail"]
        assert await gw.terminate() == 0
    # The counters are in the store: a restart remembers them.
    async with daemon(config, env=clock.env) as gw:
        status, problem, _ = await _otp(gw, "8613800138200")
        assert status == 429 and problem["rule"] == "5 per hour"
        clock.advance(3600)
        assert (await _otp(gw, "8613800138200"))[0] == 202
        # Notifications are not capped.
        for _ in range(3):
            assert await gw.send(to="8613800138200", text="shipped")


async def test_quiet_hours_hold_marketing_until_the_window_ends(smsc: FakeSMSC,
                                                                tmp_path: Path) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    tomorrow = (datetime.now(zone) + timedelta(days=1)).date()
    night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 23, 0, tzinfo=zone)
    morning = night + timedelta(hours=9)
    clock = Clock(tmp_path)
    clock.set(night.timestamp() - time.time())
    config = daemon_config(tmp_path, smsc.port, policy="")  # (the default window)
    async with daemon(config, env=clock.env) as gw:
        status, body, _ = await gw.request("POST", "/v1/messages", json={
            "to": "8613800138210", "text": "双十一全场五折", "kind": "marketing"})
        assert status == 202 and body["state"] == "scheduled"
        assert datetime.fromisoformat(body["scheduled_for"]) == morning
        held = body["id"]
        code = await gw.send(to="8613800138211", text="您的验证码是123456", kind="otp")
        notice = await gw.send(to="8613800138212", text="您的订单已发货")
        for message_id in (code, notice):
            assert (await gw.until(message_id, lambda m: m["final"]))["state"] == "delivered"
        m = await gw.message(held)
        assert m["state"] == "scheduled"
        assert datetime.fromisoformat(m["timestamps"]["scheduled_for"]) == morning
        assert not smsc.ledger.entries(destination_addr="8613800138210")
        # Morning comes: it goes.
        clock.set(morning.timestamp() + 1 - time.time())
        m = await gw.until(held, lambda m: m["final"])
        assert m["state"] == "delivered"
        assert smsc.ledger.entries(destination_addr="8613800138210")
