"""Bad requests: each gets problem details (RFC 9457) with its status and the field it is about,
and the daemon serves the next request as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import Daemon, daemon, daemon_config

GOOD = {"to": "8613800138000", "text": "hello"}
# (name, method, path, body: JSON value, raw bytes, or None; headers) -> (status, field or None,
# a word the problem type has)
CASES: list[tuple[str, str, str, Any, dict[str, str], int, str | None, str]] = [
    ("malformed JSON", "POST", "/v1/messages", b'{"to": "86", "text": ', {}, 400, None,
     "malformed-json"),
    ("not UTF-8", "POST", "/v1/messages", b'{"to": "\xff\xfe"}', {}, 400, None, "malformed"),
    ("a JSON array", "POST", "/v1/messages", [GOOD], {}, 400, None, "invalid-body"),
    ("unknown field", "POST", "/v1/messages", {**GOOD, "colour": "red"}, {}, 400, "colour",
     "invalid-field"),
    ("number with letters", "POST", "/v1/messages", {**GOOD, "to": "86abc"}, {}, 400, "to",
     "invalid-field"),
    ("number as a number", "POST", "/v1/messages", {**GOOD, "to": 8613800138000}, {}, 400,
     "to", "invalid-field"),
    ("missing text", "POST", "/v1/messages", {"to": "8613800138000"}, {}, 400, None,
     "invalid-field"),
    ("empty text", "POST", "/v1/messages", {**GOOD, "text": ""}, {}, 400, "text",
     "invalid-field"),
    ("unknown kind", "POST", "/v1/messages", {**GOOD, "kind": "spam"}, {}, 400, "kind",
     "refused"),
    ("unknown channel", "POST", "/v1/messages", {**GOOD, "channel": "nope"}, {}, 400,
     "channel", "refused"),
    ("too many parts", "POST", "/v1/messages", {**GOOD, "text": "x" * 2000}, {}, 400, "text",
     "invalid-text"),
    ("send_at without a zone", "POST", "/v1/messages",
     {**GOOD, "send_at": "2030-01-01T00:00:00"}, {}, 400, "send_at", "invalid-field"),
    ("negative validity", "POST", "/v1/messages", {**GOOD, "validity": -1}, {}, 400,
     "validity", "invalid-field"),
    ("metadata not an object", "POST", "/v1/messages", {**GOOD, "metadata": [1]}, {}, 400,
     "metadata", "invalid-field"),
    ("messages not a list", "POST", "/v1/messages", {"messages": GOOD}, {}, 400, "messages",
     "invalid-field"),
    ("empty batch", "POST", "/v1/messages", {"messages": []}, {}, 400, "messages",
     "invalid-field"),
    ("a field beside messages", "POST", "/v1/messages", {"messages": [GOOD], "to": "1"}, {},
     400, "to", "invalid-field"),
    ("batch over the limit", "POST", "/v1/messages", {"messages": [GOOD] * 11}, {}, 413, None,
     "batch-too-large"),
    ("body over the cap", "POST", "/v1/messages", {**GOOD, "text": "x" * 5000}, {}, 413, None,
     "body-too-large"),
    ("bad idempotency key", "POST", "/v1/messages", GOOD, {"Idempotency-Key": "a b"}, 400,
     "Idempotency-Key", "invalid-header"),
    ("unknown state filter", "GET", "/v1/messages?state=lost", None, {}, 400, "state",
     "invalid-parameter"),
    ("unknown query parameter", "GET", "/v1/messages?colour=red", None, {}, 400, "colour",
     "invalid-parameter"),
    ("limit too big", "GET", "/v1/messages?limit=100000", None, {}, 400, "limit",
     "invalid-parameter"),
    ("since without a zone", "GET", "/v1/messages?since=2026-01-01T00:00:00", None, {}, 400,
     "since", "invalid-parameter"),
    ("bad cursor", "GET", "/v1/messages?cursor=abc", None, {}, 400, "cursor",
     "invalid-parameter"),
    ("unknown message", "GET", "/v1/messages/nope-1", None, {}, 404, None, "not-found"),
    ("bad number", "PUT", "/v1/suppressions/12ab", None, {}, 400, "number", "invalid-field"),
    ("bad suppression body", "PUT", "/v1/suppressions/8613800138000", {"reason": 5}, {}, 400,
     "reason", "invalid-field"),
    ("unknown path", "GET", "/v2/messages", None, {}, 404, None, "http-404"),
    ("wrong method", "PATCH", "/v1/messages", GOOD, {}, 405, None, "http-405"),
]


@pytest.fixture
async def gw(smsc: FakeSMSC, tmp_path: Path) -> AsyncIterator[Daemon]:
    config = daemon_config(tmp_path, smsc.port, server="max_body = 4096\nmax_batch = 10",
                           channel="max_parts = 5")
    async with daemon(config) as running:
        yield running


async def test_every_bad_request_is_named_and_the_daemon_serves_on(gw: Daemon) -> None:
    for name, method, path, body, headers, status, field, kind in CASES:
        raw = body if isinstance(body, bytes) else None
        got, problem, got_headers = await gw.request(
            method, path, json=None if raw is not None else body, data=raw, headers=headers)
        assert got == status, (name, problem)
        assert got_headers["Content-Type"].startswith("application/problem+json"), name
        assert kind in problem["type"], (name, problem)
        assert problem["status"] == status and problem["detail"], name
        if field is not None:
            assert [e["field"] for e in problem["errors"]] == [field], (name, problem)
        # The daemon lives on: a good request right after each bad one.
        assert await gw.send(**GOOD), name
    assert gw.proc.returncode is None


async def test_malformed_json_says_where(gw: Daemon) -> None:
    status, problem, _ = await gw.request("POST", "/v1/messages", data=b'{"to": "1",\n "text" "x"}')
    assert status == 400 and "line 2 column 9" in problem["detail"]


async def test_a_refused_single_message_names_its_field(gw: Daemon) -> None:
    status, problem, _ = await gw.request("POST", "/v1/messages",
                                          json={"to": "+", "text": "x"})
    assert status == 400 and problem["errors"][0]["field"] == "to"


async def test_json_nested_too_deeply_is_refused_and_the_daemon_lives_on(gw: Daemon) -> None:
    # Found by fuzzing (fuzz/, issue 21): a 500 before.
    for body in (b'{"to":' + b"[" * 1_500 + b"]" * 1_500 + b"}", b"[" * 4_000):
        status, problem, _ = await gw.request("POST", "/v1/messages", data=body)
        assert status == 400 and problem["type"].endswith(("nested-too-deep", "malformed-json",
                                                           "invalid-body")), problem
    assert await gw.send(**GOOD)


async def test_a_multipart_part_with_a_malformed_header_is_400(gw: Daemon) -> None:
    # Found by schemathesis (issue 21): aiohttp's multipart reader raised InvalidHeader, a 500.
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"\x0eT\"\r\n\r\n"
            f"to,name\r\n8613800138000,Li\r\n--{boundary}--\r\n").encode()
    status, problem, _ = await gw.request(
        "POST", "/v1/campaigns?template=sale", data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 400 and problem["type"].endswith("malformed-request"), problem
    assert await gw.send(**GOOD)


async def test_a_405_names_the_allowed_methods(gw: Daemon) -> None:
    # RFC 9110: a 405 carries Allow (found missing by schemathesis, issue 21).
    status, problem, headers = await gw.request("DELETE", "/v1/messages")
    assert status == 405 and problem["type"].endswith("http-405"), problem
    assert set(headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
