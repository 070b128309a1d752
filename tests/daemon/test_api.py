"""``smsengine serve`` as a subprocess, driven over real HTTP, against the fake SMSC (in this
process, so its ledger can be read): send, batch, idempotency, status, pagination, scheduled
sending, cancel, suppressions, auth, readiness, the OpenAPI document."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import (
    KEY,
    READ_KEY,
    SEND_KEY,
    Daemon,
    daemon,
    daemon_config,
)


@pytest.fixture
async def gw(smsc: FakeSMSC, tmp_path: Path) -> AsyncIterator[Daemon]:
    async with daemon(daemon_config(tmp_path, smsc.port)) as running:
        yield running


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _final(m: dict[str, Any]) -> bool:
    return bool(m["final"])


async def test_a_code_is_accepted_sent_delivered_and_its_history_kept(gw: Daemon,
                                                                      smsc: FakeSMSC) -> None:
    status, body, headers = await gw.request("POST", "/v1/messages", json={
        "to": "+8613800138000", "text": "Your code is 402113", "kind": "otp",
        "from": "SHOP", "out_id": "order-7", "metadata": {"shop": 12}})
    assert status == 202 and body["status"] == "accepted" and body["parts"] == 1
    assert body["out_id"] == "order-7" and headers["X-Request-Id"]
    m = await gw.until(body["id"], _final)
    assert m["state"] == "delivered" and m["kind"] == "otp" and m["channel"] == "main"
    assert m["to"] == "+8613800138000" and m["from"] == "SHOP" and m["metadata"] == {"shop": 12}
    [part] = m["parts"]
    assert part["state"] == "delivered" and part["smsc_id"]
    # The carrier got it once, to the number without its +, and its id is the part's.
    [entry] = smsc.ledger.entries(destination_addr="8613800138000")
    assert entry.message_id == part["smsc_id"]
    t = m["timestamps"]
    assert t["accepted"] <= t["sending"] <= t["submitted"] <= t["done"]


async def test_a_long_text_counts_its_parts(gw: Daemon) -> None:
    status, body, _ = await gw.request("POST", "/v1/messages", json={
        "to": "8613800138001", "text": "您的订单已发货" * 20})
    assert status == 202 and body["parts"] == 3
    m = await gw.until(body["id"], _final)
    assert m["state"] == "delivered" and len(m["parts"]) == 3
    assert all(p["smsc_id"] for p in m["parts"])


async def test_a_batch_answers_per_message_and_one_bad_number_never_fails_it(
        gw: Daemon, smsc: FakeSMSC) -> None:
    messages: list[dict[str, Any]] = [{"to": f"861390000{i:04d}", "text": f"notice {i}"}
                                      for i in range(20)]
    messages[3]["to"] = "86-139"
    messages[7]["kind"] = "nosuchkind"
    messages[9]["colour"] = "red"
    messages[11]["text"] = ""
    status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": messages})
    assert status == 202 and body["accepted"] == 16 and body["refused"] == 4
    answers = body["messages"]
    assert [a["status"] for a in answers].count("refused") == 4
    assert answers[3]["error"]["field"] == "messages[3].to"
    assert answers[7]["error"]["field"] == "messages[7].kind"
    assert answers[9]["error"]["field"] == "messages[9].colour"
    assert answers[11]["error"]["field"] == "messages[11].text"
    ids = [a["id"] for a in answers if a["status"] == "accepted"]
    assert len(set(ids)) == 16
    for message_id in ids:
        assert (await gw.until(message_id, _final))["state"] == "delivered"
    assert len(smsc.ledger) == 16


async def test_the_same_idempotency_key_and_body_is_one_message(gw: Daemon,
                                                                smsc: FakeSMSC) -> None:
    body = {"to": "8613800138002", "text": "Order 12 paid"}
    headers = {"Idempotency-Key": "pay-12"}
    # Concurrent retries, as a client with a short timeout would send them: one message.
    first = await asyncio.gather(*(gw.request("POST", "/v1/messages", json=body,
                                              headers=headers) for _ in range(5)))
    assert {r[0] for r in first} == {202}
    assert len({r[1]["id"] for r in first}) == 1
    status, again, _ = await gw.request("POST", "/v1/messages", json=body, headers=headers)
    assert status == 202 and again == first[0][1]
    status, problem, _ = await gw.request("POST", "/v1/messages",
                                          json={**body, "text": "Order 13 paid"},
                                          headers=headers)
    assert status == 409 and problem["type"].endswith("idempotency-key-reused")
    await gw.until(first[0][1]["id"], _final)
    assert len(smsc.ledger.entries(destination_addr="8613800138002")) == 1
    # Another key sends another message.
    status, other, _ = await gw.request("POST", "/v1/messages", json=body,
                                        headers={"Idempotency-Key": "pay-12b"})
    assert status == 202 and other["id"] != first[0][1]["id"]


async def test_messages_are_found_by_filters_a_page_at_a_time(gw: Daemon) -> None:
    start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ids = []
    for i in range(25):
        ids.append(await gw.send(to="8613700000001" if i % 2 else "8613700000002",
                                 text=f"page {i}", out_id=f"o{i % 5}"))
    for message_id in ids:
        await gw.until(message_id, _final)
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        status, page, _ = await gw.request(
            "GET", f"/v1/messages?since={start}&limit=10" + (f"&cursor={cursor}" if cursor
                                                              else ""))
        assert status == 200
        pages += 1
        seen += [m["id"] for m in page["messages"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert pages == 3 and seen == ids[::-1]  # newest first, each once
    status, page, _ = await gw.request("GET", "/v1/messages?to=8613700000001&limit=100")
    assert {m["to"] for m in page["messages"]} == {"8613700000001"}
    assert len(page["messages"]) == 12
    status, page, _ = await gw.request("GET", "/v1/messages?out_id=o3")
    assert sorted(m["id"] for m in page["messages"]) == sorted(ids[3::5])
    status, page, _ = await gw.request("GET", "/v1/messages?state=delivered&to=8613700000002")
    assert len(page["messages"]) == 13
    status, page, _ = await gw.request("GET", f"/v1/messages?until={start}")
    assert page["messages"] == []


async def test_a_scheduled_message_waits_goes_on_time_and_can_be_cancelled(
        gw: Daemon, smsc: FakeSMSC) -> None:
    soon = await gw.send(to="8613800138003", text="at noon", send_at=_at(1.5))
    later = await gw.send(to="8613800138004", text="tomorrow", send_at=_at(3600))
    m = await gw.message(soon)
    assert m["state"] == "scheduled" and m["timestamps"]["scheduled_for"]
    m = await gw.until(soon, lambda m: m["state"] != "scheduled", timeout=10)
    released = time.time()
    due = datetime.fromisoformat(m["timestamps"]["scheduled_for"]).timestamp()
    assert released - due < 1.5  # released within a second of its time (polled every 50 ms)
    assert (await gw.until(soon, _final))["state"] == "delivered"
    status, cancelled, _ = await gw.request("DELETE", f"/v1/messages/{later}")
    assert status == 200 and cancelled["state"] == "cancelled" and cancelled["final"]
    status, again, _ = await gw.request("DELETE", f"/v1/messages/{later}")
    assert status == 200 and again["state"] == "cancelled"
    status, problem, _ = await gw.request("DELETE", f"/v1/messages/{soon}")
    assert status == 409 and "delivered" in problem["detail"]
    assert not smsc.ledger.entries(destination_addr="8613800138004")


async def test_a_scheduled_message_survives_a_restart(smsc: FakeSMSC, tmp_path: Path) -> None:
    config = daemon_config(tmp_path, smsc.port)
    async with daemon(config) as first:
        message_id = await first.send(to="8613800138005", text="after restart",
                                      send_at=_at(2.0))
        assert await first.terminate() == 0
    async with daemon(config) as second:
        m = await second.until(message_id, _final, timeout=15)
        assert m["state"] == "delivered"
    assert len(smsc.ledger.entries(destination_addr="8613800138005")) == 1


async def test_queued_messages_cancel_and_wait_for_a_carrier_while_it_is_down(
        tmp_path: Path) -> None:
    # No SMSC: messages stay queued, not ready; a queued one cancels.
    config = daemon_config(tmp_path, 9)  # (port 9: nothing listens)
    async with daemon(config) as gw:
        status, ready, _ = await gw.request("GET", "/readyz", key=None)
        assert status == 503 and ready["checks"] == {"channel main": "no bind up"}
        status, health, _ = await gw.request("GET", "/healthz", key=None)
        assert status == 200 and health["status"] == "ok"
        message_id = await gw.send(to="8613800138006", text="waits")
        assert (await gw.message(message_id))["state"] == "queued"
        status, body, _ = await gw.request("DELETE", f"/v1/messages/{message_id}")
        assert status == 200 and body["state"] == "cancelled"
        kept = await gw.send(to="8613800138007", text="kept")
        assert await gw.terminate() == 0
    # It went nowhere; the next start with a carrier sends what stayed queued.
    smsc = FakeSMSC()
    await smsc.start()
    try:
        config = daemon_config(tmp_path, smsc.port)
        async with daemon(config) as gw:
            assert (await gw.until(kept, _final))["state"] == "delivered"
            assert (await gw.message(message_id))["state"] == "cancelled"
            status, ready, _ = await gw.request("GET", "/readyz", key=None)
            assert status == 200
        assert [e.destination_addr for e in smsc.ledger] == ["8613800138007"]
    finally:
        await smsc.stop()


async def test_suppressions_block_marketing_and_mo_opt_outs_show_up(gw: Daemon,
                                                                    smsc: FakeSMSC) -> None:
    status, body, _ = await gw.request("PUT", "/v1/suppressions/+8613800138010",
                                       json={"reason": "asked by phone"})
    assert status == 200 and body["number"] == "8613800138010"
    status, body, _ = await gw.request("POST", "/v1/messages", json={
        "to": "8613800138010", "text": "Sale!", "kind": "marketing"})
    assert status == 400 and body["errors"][0]["field"] == "to"
    assert body["type"].endswith("opted-out")
    # An OTP to the same number still goes (only marketing is suppressed).
    assert await gw.send(to="8613800138010", text="code 1", kind="otp")
    # A reply 退订 puts its sender on the list.
    await smsc.inject_mo("8613800138011", "SHOP", "退订")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await gw.request("GET", "/v1/suppressions/8613800138011"))[0] != 200:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    status, page, _ = await gw.request("GET", "/v1/suppressions?limit=1")
    assert status == 200 and len(page["suppressions"]) == 1 and page["next_cursor"]
    status, page, _ = await gw.request("GET",
                                       f"/v1/suppressions?cursor={page['next_cursor']}")
    assert [s["number"] for s in page["suppressions"]] == ["8613800138011"]
    # By the first digits (the console's search): pages within the prefix, bad ones named.
    for number in ("8613900000001", "8613900000002", "8613910000000"):
        assert (await gw.request("PUT", f"/v1/suppressions/{number}"))[0] == 200
    status, page, _ = await gw.request("GET", "/v1/suppressions?prefix=%2B861390&limit=1")
    assert [s["number"] for s in page["suppressions"]] == ["8613900000001"]
    status, page, _ = await gw.request(
        "GET", f"/v1/suppressions?prefix=861390&cursor={page['next_cursor']}")
    assert [s["number"] for s in page["suppressions"]] == ["8613900000002"]
    assert page["next_cursor"] is None
    status, page, _ = await gw.request("GET", "/v1/suppressions?prefix=86138001380")
    assert [s["number"] for s in page["suppressions"]] == ["8613800138010", "8613800138011"]
    status, page, _ = await gw.request("GET", "/v1/suppressions?prefix=86a")
    assert status == 400 and page["errors"][0]["field"] == "prefix"
    status, _, _ = await gw.request("DELETE", "/v1/suppressions/8613800138010")
    assert status == 204
    status, _, _ = await gw.request("GET", "/v1/suppressions/8613800138010")
    assert status == 404
    assert await gw.send(to="8613800138010", text="Sale!", kind="marketing")


async def test_keys_and_scopes(gw: Daemon) -> None:
    send = {"to": "8613800138020", "text": "hi"}
    status, problem, headers = await gw.request("POST", "/v1/messages", json=send, key=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    status, problem, _ = await gw.request("POST", "/v1/messages", json=send,
                                          key="not-a-key-at-all-xxxxx")
    assert status == 401 and "not-a-key" not in problem["detail"]
    status, body, _ = await gw.request("POST", "/v1/messages", json=send, key=SEND_KEY)
    assert status == 202  # (SEND_KEY comes from the environment variable the config names)
    message_id = body["id"]
    status, problem, _ = await gw.request("GET", f"/v1/messages/{message_id}", key=SEND_KEY)
    assert status == 403 and "read" in problem["detail"]
    status, _, _ = await gw.request("GET", f"/v1/messages/{message_id}", key=READ_KEY)
    assert status == 200
    status, _, _ = await gw.request("POST", "/v1/messages", json=send, key=READ_KEY)
    assert status == 403
    status, _, _ = await gw.request("PUT", "/v1/suppressions/8613800138020", key=READ_KEY)
    assert status == 403
    # No key, secret or password in what the daemon logged.
    text = "".join(gw.log)
    for secret in (KEY, SEND_KEY, READ_KEY, "secret"):
        assert secret not in text


async def test_the_openapi_document_matches_the_routes(gw: Daemon) -> None:
    status, doc, _ = await gw.request("GET", "/openapi.json", key=None)
    assert status == 200 and doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items()
                  for method in ops}
    from smsengine.daemon.app import ROUTES

    assert documented == {(r["path"], r["method"]) for r in ROUTES}
    # Every documented route exists: each answers something other than 404/405 for its
    # method (an unknown id or number gives a 404 problem of ours, not aiohttp's).
    for path, method in documented:
        concrete = (path.replace("{id}", "x-1").replace("{number}", "8613800000000")
                    .replace("{name}", "no-such-template"))
        status, body, _ = await gw.request(method, concrete, json={} if method in (
            "POST", "PUT") else None)
        assert status != 405, (method, path)
        if status == 404:
            assert body["type"] == "urn:smsengine:problem:not-found", (method, path)
    schemas = doc["components"]["schemas"]
    assert {"MessageIn", "BatchIn", "MessageOut", "Problem"} <= set(schemas)


async def test_past_max_outbox_new_requests_get_503_with_retry_after(tmp_path: Path) -> None:
    # No carrier: nothing becomes final, so the outbox fills at 5.
    async with daemon(daemon_config(tmp_path, 9, store="max_outbox = 5")) as gw:
        status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": [
            {"to": f"86137{n:08d}", "text": "x"} for n in range(4)]})
        assert status == 202
        status, problem, headers = await gw.request("POST", "/v1/messages", json={
            "messages": [{"to": "8613700000010", "text": "x"}] * 2})
        assert status == 503 and problem["type"].endswith("outbox-full")
        assert int(headers["Retry-After"]) > 0 and "max_outbox" in problem["detail"]
        assert await gw.send(to="8613700000011", text="the fifth fits")
        # Cancelling one makes room again.
        assert (await gw.request("DELETE", f"/v1/messages/{body['messages'][0]['id']}"))[0] == 200
        assert await gw.send(to="8613700000012", text="room again")


async def test_metrics_parse_and_count_what_happened(gw: Daemon) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from tests.test_metrics import DAEMON_METRICS

    ids = [await gw.send(to=f"86138000{n:05d}", text="count me") for n in range(5)]
    for message_id in ids:
        await gw.until(message_id, _final)
    await gw.request("GET", "/v1/messages/nope-1")
    async with gw.http.get(gw.base + "/metrics") as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        text = await resp.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    for name, kind in DAEMON_METRICS.items():
        base = name.removesuffix("_total")
        assert base in families and families[base].type == kind, name
    delivered = samples[("smsengine_messages_total", (("channel", "main"),
                                                      ("kind", "notification"),
                                                      ("state", "delivered")))]
    assert delivered == 5
    assert samples[("smsengine_http_requests_total", (("code", "202"),
                                                      ("route", "/v1/messages")))] == 5
    assert samples[("smsengine_http_requests_total", (("code", "404"),
                                                      ("route", "/v1/messages/{id}")))] == 1
    for name, labels in samples:
        for _, value in labels:
            assert not value.startswith("86138"), (name, labels)  # no number is a label


async def test_stats_agree_with_metrics_after_a_run(gw: Daemon) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    ids = [await gw.send(to=f"86138100{n:05d}", text="stat me", kind="otp") for n in range(4)]
    ids.append(await gw.send(to="86138100999", text="您的订单已发货" * 20))  # 3 parts
    for message_id in ids:
        await gw.until(message_id, _final)
    status, page, _ = await gw.request("GET", "/v1/stats?group_by=kind,channel")
    assert status == 200
    rows = {(r["kind"], r["channel"]): r for r in page["rows"]}
    otp = rows[("otp", "main")]
    assert otp["submitted"] == otp["delivered"] == 4 and otp["parts"] == 4
    assert otp["delivery_rate"] == 1.0 and otp["p50"] is not None
    assert rows[("notification", "main")]["parts"] == 3
    status, page, _ = await gw.request("GET", "/v1/stats?group_by=day")
    assert sum(r["delivered"] for r in page["rows"]) == 5
    async with gw.http.get(gw.base + "/metrics") as resp:
        text = await resp.text()
    delivered = {tuple(sorted(s.labels.items())): s.value
                 for f in text_string_to_metric_families(text) for s in f.samples
                 if s.name == "smsengine_messages_total" and s.labels["state"] == "delivered"}
    assert delivered[(("channel", "main"), ("kind", "otp"), ("state", "delivered"))] == 4
    for bad in ("group_by=week", "group_by=day,hour", "from=yesterday", "tz=Mars/Base",
                "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"):
        status, problem, _ = await gw.request("GET", f"/v1/stats?{bad}")
        assert status == 400 and problem["errors"], bad
