"""schemathesis against a running ``smsengine serve`` (issue 21): requests made from the
daemon's own ``/openapi.json`` (its coverage, fuzzing and stateful phases, with the admin key),
bounded to 30 s of testing; no answer may be a 5xx, and every answer must match the schema of
its operation and status. The daemon's carrier is a fake SMSC, so /readyz is ready.

Without the schemathesis package the run skips, loudly (as tests/daemon/console/ does without a
browser); under ``CI=true`` a missing schemathesis is a failure."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

import msgspec
import pytest

from smsengine.daemon.schema import BatchOut
from smsengine.fakesmsc import FakeSMSC
from tests._support.daemon_process import KEY, daemon, daemon_config
from tests._support.services import unavailable

BUDGET = 30  # seconds of schemathesis's own run; with the daemon's start, under 40 in CI


def _need_schemathesis() -> None:
    try:
        importlib.import_module("schemathesis")
    except ImportError:
        reason = "the schemathesis package is not installed (pip install -e '.[dev]')"
    else:
        return
    unavailable("the schemathesis run", reason)


def test_without_schemathesis_the_run_skips_loudly_and_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis", None)  # (import raises ImportError)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="schemathesis package is not installed"):
        _need_schemathesis()
    monkeypatch.delenv("CI")
    with pytest.warns(UserWarning, match="SCHEMATHESIS RUN SKIPPED"), \
            pytest.raises(pytest.skip.Exception):
        _need_schemathesis()


async def test_schemathesis_finds_no_server_error_and_no_answer_off_its_schema(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    _need_schemathesis()
    config = daemon_config(tmp_path, smsc.port)
    async with daemon(config) as gw:
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "run", gw.base + "/openapi.json",
            "--header", f"Authorization: Bearer {KEY}",
            "--checks", "not_a_server_error,response_schema_conformance",
            "--max-time", str(BUDGET), "--seed", "21", "--workers", "1",
            "--no-color", "--report-dir", str(tmp_path / "report"),
            cwd=tmp_path,  # (its .schemathesis cache there, not in the repo)
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(run.communicate(), BUDGET + 60)
        text = output.decode(errors="replace")
        assert run.returncode == 0, text[-8000:]
        assert gw.proc.returncode is None
        assert "Traceback" not in "".join(gw.log), "".join(gw.log)[-4000:]


async def test_a_batch_partly_accepted_matches_its_documented_202(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    # Found by schemathesis's stateful phase: the 202 of a batch (BatchOut) was documented as
    # a single message's (Accepted).
    async with daemon(daemon_config(tmp_path, smsc.port)) as gw:
        status, doc, _ = await gw.request("GET", "/openapi.json")
        assert status == 200
        status, body, _ = await gw.request("POST", "/v1/messages", json={"messages": [
            {"to": "8613800138000", "text": "good"}, {"to": "+", "text": "bad"}]})
        assert status == 202 and body["refused"] == 1, body
        schema = (doc["paths"]["/v1/messages"]["post"]["responses"]["202"]["content"]
                  ["application/json"]["schema"])
        assert "#/components/schemas/BatchOut" in [one["$ref"] for one in schema["oneOf"]]
        msgspec.convert(body, BatchOut)  # (the type the schema is made from)


async def test_a_suppression_put_without_a_body_is_documented_so(
        smsc: FakeSMSC, tmp_path: Path) -> None:
    # Found by schemathesis (--checks all): the body was documented as required.
    async with daemon(daemon_config(tmp_path, smsc.port)) as gw:
        status, doc, _ = await gw.request("GET", "/openapi.json")
        put = doc["paths"]["/v1/suppressions/{number}"]["put"]
        assert put["requestBody"]["required"] is False
        status, body, _ = await gw.request("PUT", "/v1/suppressions/8613800138000")
        assert status == 200 and body["reason"] == "manual", body
