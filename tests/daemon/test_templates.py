# ruff: noqa: RUF001  (Chinese text has full-width punctuation)
"""Templates, signatures and codes never at rest (issue 19), end to end: ``smsengine serve`` as a
subprocess, the fake SMSC's ledger as the oracle (it keeps a digest of each part's user data, so
a one-part text is checked exactly)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import READ_KEY, SEND_KEY, Daemon, daemon, daemon_config

CODE = "739155"


def _digest(text: str) -> str:
    """The ledger's digest of a one-part UCS2 text."""
    return hashlib.sha256(text.encode("utf-16-be")).hexdigest()[:16]


def _at_rest(folder: Path) -> bytes:
    """Every byte the store holds: the database, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("outbox.db*")))


@pytest.fixture
async def gw(smsc: FakeSMSC, tmp_path: Path) -> AsyncIterator[Daemon]:
    config = daemon_config(tmp_path, smsc.port, keys='sign_name = "ShopCN"')
    async with daemon(config) as running:
        yield running


async def _create(gw: Daemon, **template: Any) -> dict[str, Any]:
    status, body, _ = await gw.request("POST", "/v1/templates", json=template)
    assert status == 201, body
    return dict(body)


async def test_templates_are_created_versioned_read_and_retired(gw: Daemon) -> None:
    t = await _create(gw, name="shipped", kind="notification",
                      text="您的订单${order}已发货", variables={"order": {"digits": True}})
    assert t["version"] == 1 and t["variables"] == {"order": {"digits": True, "secret": False}}
    status, problem, _ = await gw.request("POST", "/v1/templates", json={
        "name": "shipped", "kind": "notification", "text": "again"})
    assert status == 409 and problem["errors"][0]["field"] == "name"
    status, _, _ = await gw.request("POST", "/v1/templates", key=SEND_KEY, json={
        "name": "x", "kind": "otp", "text": "${code}"})
    assert status == 403
    status, body, _ = await gw.request("PUT", "/v1/templates/shipped", json={
        "kind": "notification", "text": "订单${order}已发出"})
    assert status == 200 and body["version"] == 2
    status, body, _ = await gw.request("GET", "/v1/templates/shipped?version=1", key=READ_KEY)
    assert status == 200 and body["text"] == "您的订单${order}已发货"
    status, body, _ = await gw.request("GET", "/v1/templates/shipped/versions", key=READ_KEY)
    assert [t["version"] for t in body["templates"]] == [1, 2]
    status, body, _ = await gw.request("GET", "/v1/templates", key=READ_KEY)
    assert [t["name"] for t in body["templates"]] == ["shipped"]
    # A message records the version it used.
    message_id = await gw.send(to="8613800138100", template="shipped",
                               params={"order": "1001"})
    m = await gw.message(message_id)
    assert m["text"] == "【ShopCN】订单1001已发出"
    assert (await gw.request("DELETE", "/v1/templates/shipped"))[0] == 204
    assert (await gw.request("GET", "/v1/templates/shipped"))[0] == 404
    status, problem, _ = await gw.request("POST", "/v1/messages", json={
        "to": "8613800138100", "template": "shipped", "params": {"order": "1"}})
    assert status == 400 and problem["errors"][0]["field"] == "template"
    # Bad templates, each named.
    for bad, field in (({"text": "hi ${"}, "text"),
                       ({"text": "${a}", "variables": {"b": {}}}, "text"),
                       ({"kind": "nosuchkind"}, "kind"),
                       ({"max_parts": 0}, "max_parts")):
        status, problem, _ = await gw.request("POST", "/v1/templates", json={
            "name": "bad", "kind": "otp", "text": "${code}", **bad})
        assert status == 400 and problem["errors"][0]["field"] == field, (bad, problem)


async def test_templated_chinese_in_one_and_three_parts_with_signature_and_optout(
        gw: Daemon, smsc: FakeSMSC) -> None:
    await _create(gw, name="short", kind="notification", text="您的订单${order}已发货")
    await _create(gw, name="long", kind="notification",
                  text="尊敬的${name}：您的订单${order}已发货，" + "请注意查收，" * 18 + "！！！")
    await _create(gw, name="sale", kind="marketing", sign_name="店铺",
                  text="${name}您好，双十一全场五折")
    one = await gw.send(to="8613800138101", template="short", params={"order": "1001"})
    three = await gw.send(to="8613800138102", template="long",
                          params={"name": "张三", "order": 1002})
    sale = await gw.send(to="8613800138103", template="sale", params={"name": "李四"})
    # The preview counts what is sent: the signature and the suffix are in the parts.
    status, seg, _ = await gw.request("POST", "/v1/segments", json={
        "template": "long", "params": {"name": "张三", "order": "1002"}})
    assert status == 200 and seg["parts"] == 3 and seg["encoding"] == "ucs2"
    assert len(seg["per_part"]) == 3 and sum(seg["per_part"]) == seg["units"]
    assert seg["text"].startswith("【ShopCN】尊敬的张三")
    # (137 characters with the signature: 3 parts of 67; 129 without it: 2)
    status, seg, _ = await gw.request("POST", "/v1/segments", key=SEND_KEY, json={
        "template": "long", "params": {"name": "张三", "order": "1002"}})
    assert status == 200 and seg["parts"] == 2 and seg["units"] == 129
    for message_id, parts in ((one, 1), (three, 3), (sale, 1)):
        m = await gw.until(message_id, lambda m: m["final"])
        assert m["state"] == "delivered" and m["parts_count"] == parts == len(m["parts"])
    [entry] = smsc.ledger.entries(destination_addr="8613800138101")
    assert entry.payload_digest == _digest("【ShopCN】您的订单1001已发货")
    assert len(smsc.ledger.entries(destination_addr="8613800138102")) == 3
    # The template's own sign name comes first; marketing gets 回T退订.
    [entry] = smsc.ledger.entries(destination_addr="8613800138103")
    assert entry.payload_digest == _digest("【店铺】李四您好，双十一全场五折回T退订")
    status, seg, _ = await gw.request("POST", "/v1/segments", json={
        "text": "全场五折", "kind": "marketing"})
    assert seg["text"] == "【ShopCN】全场五折回T退订" and seg["units"] == 16
    # A plain text with a signature of its own gets no second one.
    plain = await gw.send(to="8613800138104", text="【自有】订单已发货")
    assert (await gw.message(plain))["text"] == "【自有】订单已发货"


async def test_a_bad_param_is_named_alone_and_in_a_batch(gw: Daemon) -> None:
    await _create(gw, name="login", kind="otp", text="您的验证码是${code}，5分钟内有效",
                  variables={"code": {"digits": True, "max_length": 8}}, max_parts=1)
    cases = [({}, "params.code", "missing"), ({"code": "12ab"}, "params.code", "digits"),
             ({"code": CODE, "extra": "1"}, "params.extra", "unknown"),
             ({"code": "1" * 9}, "params.code", "longer")]
    for params, field, word in cases:
        status, problem, _ = await gw.request("POST", "/v1/messages", json={
            "to": "8613800138110", "template": "login", "params": params})
        assert status == 400 and problem["errors"][0]["field"] == field, problem
        assert word in problem["detail"]
    status, problem, _ = await gw.request("POST", "/v1/messages", json={
        "to": "8613800138110", "template": "login", "text": "both"})
    assert status == 400 and problem["errors"][0]["field"] == "text"
    messages: list[dict[str, Any]] = [
        {"to": f"86138001382{i:02d}", "template": "login", "params": {"code": "1234"}}
        for i in range(5)]
    messages[3]["params"] = {"code": "12x4"}
    status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": messages})
    assert status == 202 and body["accepted"] == 4
    assert body["messages"][3]["error"]["field"] == "messages[3].params.code"


async def test_codes_are_never_at_rest(smsc: FakeSMSC, tmp_path: Path) -> None:
    config = daemon_config(tmp_path, smsc.port, keys='sign_name = "ShopCN"')
    async with daemon(config, "--log-level", "debug") as gw:
        await _create(gw, name="login", kind="otp", text="您的验证码是${code}，5分钟内有效")
        message_id = await gw.send(to="8613800138120", template="login",
                                   params={"code": CODE}, out_id="login-1")
        m = await gw.until(message_id, lambda m: m["final"])
        assert m["state"] == "delivered"
        assert m["text"] == "【ShopCN】您的验证码是******，5分钟内有效"
        # The carrier got the code.
        [entry] = smsc.ledger.entries(destination_addr="8613800138120")
        assert entry.payload_digest == _digest(f"【ShopCN】您的验证码是{CODE}，5分钟内有效")
        status, listed, _ = await gw.request("GET", "/v1/messages?to=8613800138120")
        status, events, _ = await gw.request("GET", "/v1/events?after=0")
        assert CODE not in str(listed) and CODE not in str(events)
        # A code cannot wait in the outbox.
        status, problem, _ = await gw.request("POST", "/v1/messages", json={
            "to": "8613800138121", "template": "login", "params": {"code": "1111"},
            "send_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
        assert status == 400 and problem["errors"][0]["field"] == "send_at"
        assert await gw.terminate() == 0
    assert CODE.encode() not in _at_rest(tmp_path)
    assert CODE.encode("utf-16-le") not in _at_rest(tmp_path)
    assert CODE not in "".join(gw.log)


async def test_a_queued_code_whose_text_died_with_the_daemon_is_never_sent_masked(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    # No carrier: the code waits in the engine; the daemon stops; its text is gone.
    async with daemon(daemon_config(tmp_path, 9)) as gw:
        await _create(gw, name="login", kind="otp", text="您的验证码是${code}")
        message_id = await gw.send(to="8613800138130", template="login",
                                   params={"code": CODE})
        assert (await gw.message(message_id))["state"] == "queued"
        assert await gw.terminate() == 0
    async with daemon(daemon_config(tmp_path, smsc.port)) as gw:
        m = await gw.until(message_id, lambda m: m["final"])
        assert m["state"] == "failed" and "request a new one" in m["error"]["detail"]
    assert not smsc.ledger.entries(destination_addr="8613800138130")
    assert CODE.encode() not in _at_rest(tmp_path)
