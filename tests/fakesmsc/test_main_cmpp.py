"""``smsengine fakesmsc --protocol cmpp`` as a process: login, SUBMIT with a report, the admin
API (binds, ledger, MO, faults), SIGTERM sending TERMINATE; ``protocol = "cmpp"`` in TOML with
``--cmpp-version``-style version limits; config errors."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from smsengine.cmpp import SubmitResp, Terminate, TerminateResp, Version, parse_report
from tests._support.cmpp_client import SECRET, SP, CmppClient
from tests._support.fakesmsc_process import fakesmsc

CONFIG = f"""
[[accounts]]
system_id = "{SP}"
password = "{SECRET}"

[receipts]
statuses = {{ UNDELIV = 1.0 }}

[cmpp]
gateway_code = 4242
"""


async def test_serves_cmpp_and_the_admin_api(tmp_path: Path) -> None:
    config = tmp_path / "ismg.toml"
    config.write_text(CONFIG)
    async with fakesmsc("--protocol", "cmpp", "--cmpp-version", "3.0",
                        "--config", str(config)) as ismg:
        c = await CmppClient.connect(ismg.port, Version.V30)
        resp = await c.login()
        assert (resp.status, resp.version) == (0, Version.V30)
        sub = await c.submit(registered_delivery=1)
        assert isinstance(sub, SubmitResp) and sub.result == 0
        assert (sub.msg_id >> 16) & 0x3FFFFF == 4242
        [report] = await c.delivers(1)
        r = parse_report(report.msg_content)
        assert (r.msg_id, r.stat) == (sub.msg_id, "UNDELIV")  # the config is used

        [bind] = await ismg.get("/binds")
        assert (bind["account"], bind["mode"]) == (SP, "CMPP 3.0")
        [row] = [json.loads(line) for line in (await ismg.get("/ledger")).splitlines()]
        assert row["message_id"] == str(sub.msg_id) and row["command"] == "CMPP_SUBMIT"

        posting = asyncio.ensure_future(ismg.post("/mo", {
            "source_addr": "13800138000", "destination_addr": "1069001", "text": "退订",
            "data_coding": 15}))
        [mo] = await c.delivers(1)
        assert mo.msg_fmt == 15 and mo.msg_content.decode("gb18030") == "退订"
        assert await posting == (200, {"parts": 1, "statuses": [0], "ok": True})

        assert (await ismg.post("/fault", {"kind": "drop"}))[1]["result"] == 1
        await c.wait_closed()

        c = await CmppClient.connect(ismg.port, Version.V30)
        assert (await c.login()).status == 0
        ismg.proc.send_signal(signal.SIGTERM)
        term = await c.expect(Terminate, timeout=5)
        await c.send(TerminateResp(sequence_id=term.sequence_id))
        await c.wait_closed()
        assert await asyncio.wait_for(ismg.proc.wait(), 10) == 0


async def test_protocol_from_toml_and_version_limit(tmp_path: Path) -> None:
    config = tmp_path / "ismg.toml"
    config.write_text('protocol = "cmpp"\n[cmpp]\nversion = "2.0"\n')
    async with fakesmsc("--config", str(config)) as ismg:
        c = await CmppClient.connect(ismg.port, Version.V30)
        resp = await c.login("123456", "anything")
        assert (resp.status, resp.version) == (4, Version.V20)
        await c.wait_closed()
        c = await CmppClient.connect(ismg.port, Version.V20)
        assert (await c.login("123456", "anything")).status == 0  # open mode
        ismg.proc.send_signal(signal.SIGTERM)
        await c.expect(Terminate, timeout=5)
        assert await asyncio.wait_for(ismg.proc.wait(), 10) == 0
        assert ismg.proc.stderr is not None
        assert b"ANY Source_Addr/secret" in await ismg.proc.stderr.read()


async def test_cmpp_config_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[accounts]]\nsystem_id = "far-too-long"\npassword = "x"\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "fakesmsc", "--protocol", "cmpp", "--port", "0",
        "--config", str(config), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert "accounts[0].system_id" in err.decode() and out == b""
