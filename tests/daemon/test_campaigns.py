"""Campaigns (issue 19), end to end: a 100 000-recipient CSV streamed in, bad rows refused by
line, duplicates sent once, paused, resumed and cancelled with progress counts that add up, and
an OTP sent meanwhile reaching the fake SMSC ahead of the queued marketing (its ledger)."""

# ruff: noqa: RUF001  (Chinese text has full-width punctuation)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import Daemon, daemon, daemon_config

N = 100_000
_PROGRESS = ("refused", "duplicates", "suppressed", "capped", "queued", "sending", "submitted",
             "delivered", "failed", "cancelled")


def _csv() -> bytes:
    lines = ["to,name"]
    for n in range(N):
        lines.append(f"8615{n:09d},客户{n}")
    lines[11] = "86-139,坏号码"  # line 12: not a number
    lines[21] = "8613900000021"  # line 22: one field short
    lines[31] = "8615000000002,重复"  # line 32: the number of line 4 again
    lines[41] = '"8615000000040","引号,逗号"'  # line 42: quoted fields
    return ("\n".join(lines) + "\n").encode()


def _adds_up(c: dict[str, Any]) -> bool:
    p = c["progress"]
    return bool(p["recipients"] == sum(p[k] for k in _PROGRESS))


async def _campaign(gw: Daemon, cid: str) -> dict[str, Any]:
    status, body, _ = await gw.request("GET", f"/v1/campaigns/{cid}")
    assert status == 200, body
    assert _adds_up(body), body["progress"]
    return dict(body)


async def _until(gw: Daemon, cid: str, done: Callable[[dict[str, Any]], bool],
                 timeout: float = 30.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        c = await _campaign(gw, cid)
        if done(c):
            return c
        assert loop.time() < deadline, c["progress"]
        await asyncio.sleep(0.05)


async def test_a_100k_csv_campaign_paused_resumed_cancelled_and_an_otp_goes_first(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    async with daemon(daemon_config(tmp_path, smsc.port), timeout=30) as gw:
        status, _, _ = await gw.request("POST", "/v1/templates", json={
            "name": "sale", "kind": "marketing", "sign_name": "店铺",
            "text": "${name}您好，双十一全场五折"})
        assert status == 201
        assert (await gw.request("PUT", "/v1/suppressions/8615000000007"))[0] == 200
        # A header naming a column the template lacks: 400, nothing kept.
        status, problem, _ = await gw.request(
            "POST", "/v1/campaigns?template=sale", data=b"to,nom\n8613900000001,x\n",
            headers={"Content-Type": "text/csv"})
        assert status == 400 and problem["errors"][0]["field"] == "params.nom"
        status, c, _ = await gw.request("POST", "/v1/campaigns?template=sale&name=double11",
                                        data=_csv(), headers={"Content-Type": "text/csv"})
        assert status == 201, c
        cid = c["id"]
        p = c["progress"]
        assert p["recipients"] == N and p["refused"] == 2 and p["duplicates"] == 1
        assert p["suppressed"] == 1 and _adds_up(c)
        assert {(r["line"], r["code"]) for r in c["refusals"]} == {
            (12, "invalid_number"), (22, "malformed")}
        # While its marketing queues in the engine, a code goes ahead of it.
        await _until(gw, cid, lambda c: c["progress"]["delivered"] > 500)
        before = len(smsc.ledger)
        code = await gw.send(to="8613800138300", text="您的验证码是123456", kind="otp")
        await gw.until(code, lambda m: m["final"])
        await asyncio.sleep(0.5)
        entries = list(smsc.ledger)
        at = next(i for i, e in enumerate(entries) if e.destination_addr == "8613800138300")
        # (ahead of all but what the binds' windows held: 2 binds of 64)
        assert at - before <= 300, (at, before)
        assert len(entries) - at > 300  # marketing queued before it went after it
        # Pause: what the engine holds that none of has left is taken back (queued again in
        # the outbox); what is with the binds (a window each) goes, then nothing more.
        asked = len(smsc.ledger)
        status, c, _ = await gw.request("POST", f"/v1/campaigns/{cid}/pause")
        assert status == 200 and c["state"] == "paused"
        c = await _until(gw, cid, lambda c: c["progress"]["sending"] == 0)
        await asyncio.sleep(0.5)
        paused = len(smsc.ledger)
        print("sent after the pause was asked:", paused - asked)
        assert paused - asked <= 400, paused - asked  # (2 binds of 64, and the request's time)
        await asyncio.sleep(1.0)
        assert len(smsc.ledger) == paused
        c = await _campaign(gw, cid)
        assert c["state"] == "paused" and c["progress"]["queued"] > 0
        left = c["progress"]["queued"]
        # Resume, then cancel midway.
        status, c, _ = await gw.request("POST", f"/v1/campaigns/{cid}/resume")
        assert status == 200 and c["state"] == "running"
        await _until(gw, cid, lambda c: c["progress"]["queued"] < left - 2000)
        status, c, _ = await gw.request("POST", f"/v1/campaigns/{cid}/cancel")
        assert status == 200 and c["state"] == "cancelled"
        c = await _until(gw, cid, lambda c: c["progress"]["sending"] == 0
                         and c["progress"]["submitted"] == 0)
        p = c["progress"]
        assert p["queued"] == 0 and p["cancelled"] > 0 and p["failed"] == 0
        # What the carrier got is what the campaign says it sent, each number once.
        sent = [e.destination_addr for e in smsc.ledger if e.destination_addr.startswith("8615")]
        assert len(sent) == len(set(sent)) == p["delivered"]
        assert "8615000000007" not in sent  # (opted out)
        assert (await gw.request("POST", f"/v1/campaigns/{cid}/resume"))[0] == 409


async def test_a_json_campaign_scheduled_with_params_per_recipient(smsc: FakeSMSC,
                                                                   tmp_path: Path) -> None:
    async with daemon(daemon_config(tmp_path, smsc.port)) as gw:
        await gw.request("POST", "/v1/templates", json={
            "name": "coupon", "kind": "marketing", "text": "${name}，您的优惠券${coupon}已到账",
            "variables": {"name": {"max_length": 10}, "coupon": {"digits": True}}})
        soon = datetime.now(UTC) + timedelta(seconds=1.5)
        status, c, _ = await gw.request("POST", "/v1/campaigns", json={
            "template": "coupon", "send_at": soon.isoformat(), "recipients": [
                {"to": "8613900000001", "params": {"name": "王五", "coupon": "100"}},
                {"to": "8613900000002", "params": {"name": "赵六", "coupon": "1x"}},
                {"to": "+8613900000001", "params": {"name": "王五", "coupon": "100"}},
                {"to": "8613900000003", "params": {"name": "孙七"}},
                {"to": "8613900000004", "params": {"name": "周八", "coupon": 5}}]})
        assert status == 201 and c["state"] == "scheduled", c
        assert [(r["line"], r["field"]) for r in c["refusals"]] == [
            (2, "params.coupon"), (4, "params.coupon")]
        assert c["progress"]["duplicates"] == 1 and c["progress"]["queued"] == 2
        assert not smsc.ledger.entries(destination_addr="8613900000001")
        c = await _until(gw, c["id"], lambda c: c["progress"]["delivered"] == 2)
        assert c["state"] == "done" and c["eta_seconds"] == 0
        status, page, _ = await gw.request("GET", "/v1/campaigns")
        assert [x["id"] for x in page["campaigns"]] == [c["id"]]
        # A template with a secret cannot be a campaign's.
        await gw.request("POST", "/v1/templates", json={
            "name": "login", "kind": "otp", "text": "验证码${code}"})
        status, problem, _ = await gw.request("POST", "/v1/campaigns", json={
            "template": "login", "recipients": [{"to": "8613900000005",
                                                 "params": {"code": "1"}}]})
        assert status == 400 and problem["errors"][0]["field"] == "template"


def _form(*fields: tuple[str, str | bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields:
        if isinstance(value, bytes):
            form.add_field(name, value, filename="recipients.csv", content_type="text/csv")
        else:
            form.add_field(name, value)
    return form


async def test_a_multipart_campaign_its_fields_then_the_csv(smsc: FakeSMSC,
                                                            tmp_path: Path) -> None:
    """An HTML form's upload (multipart/form-data): options as fields, then the CSV as the
    part ``recipients``; a bad row refused by its line, the rest sent with the form's rate."""
    csv = "to,name\n8613700000001,甲\n86-137,坏号码\n8613700000002,乙\n".encode()
    async with daemon(daemon_config(tmp_path, smsc.port)) as gw:
        await gw.request("POST", "/v1/templates", json={
            "name": "sale", "kind": "marketing", "text": "${name}，全场五折"})
        status, c, _ = await gw.request("POST", "/v1/campaigns", data=_form(
            ("template", "sale"), ("rate", "50"), ("name", "双十二"), ("recipients", csv)))
        assert status == 201, c
        assert (c["name"], c["rate"], c["template"]) == ("双十二", 50.0, "sale")
        assert [(r["line"], r["field"]) for r in c["refusals"]] == [(3, "to")]
        c = await _until(gw, c["id"], lambda c: c["progress"]["delivered"] == 2)
        for to in ("8613700000001", "8613700000002"):
            assert len(smsc.ledger.entries(destination_addr=to)) == 1

        # Each wrong form is named: an unknown field, the CSV before the template, no CSV.
        for form, field in (
                (_form(("template", "sale"), ("colour", "red"), ("recipients", csv)), "colour"),
                (_form(("recipients", csv), ("template", "sale")), "template"),
                (_form(("template", "sale"), ("name", "x" * 5000), ("recipients", csv)),
                 "name"),
                (_form(("template", "sale")), "recipients")):
            status, problem, _ = await gw.request("POST", "/v1/campaigns", data=form)
            assert status == 400, problem
            assert problem["errors"][0]["field"] == field, problem
