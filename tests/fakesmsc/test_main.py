"""``smsengine fakesmsc`` as a process: its addresses, SMPP service, the HTTP admin API
(stats, binds, ledger, MO, faults), SIGTERM unbinding its clients, and config errors."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import pytest

from smsengine.smpp import DeliverSm, EnquireLink, SubmitSmResp, Unbind, parse_receipt
from tests._support.fakesmsc_process import fakesmsc
from tests._support.smpp_client import SmppClient

CONFIG = """
[[accounts]]
system_id = "shop"
password = "secret"

[receipts]
statuses = { UNDELIV = 1.0 }
"""


async def test_serves_smpp_and_the_admin_api(tmp_path: Path) -> None:
    config = tmp_path / "smsc.toml"
    config.write_text(CONFIG)
    async with fakesmsc("--config", str(config)) as smsc:
        c = await SmppClient.connect(smsc.port)
        assert (await c.bind("transceiver")).ok
        await c.send(c.submit_sm(registered_delivery=1, destination_addr="447700900123"))
        resp, receipt = await c.collect(2)
        assert isinstance(resp, SubmitSmResp) and resp.ok
        assert isinstance(receipt, DeliverSm)
        assert parse_receipt(receipt.short_message).stat == "UNDELIV"  # the config is used

        stats = await smsc.get("/stats")
        assert stats["binds"] == 1 and stats["ledger"] == 1 and stats["ledger_dropped"] == 0
        assert stats["receipts_sent"] == 1 and stats["pdus_in"] >= 2
        [bind] = await smsc.get("/binds")
        assert (bind["account"], bind["mode"]) == ("shop", "transceiver")
        [row] = [json.loads(line) for line in (await smsc.get("/ledger")).splitlines()]
        assert row["message_id"] == resp.message_id
        assert row["destination_addr"] == "447700900123"

        # POST /mo: the client gets it, answers, and the API reports the answer.
        posting = asyncio.ensure_future(smsc.post("/mo", {
            "source_addr": "447700900123", "destination_addr": "SHOP", "text": "退订"}))
        [mo] = await c.collect(1)
        assert isinstance(mo, DeliverSm) and mo.data_coding == 8
        assert mo.short_message.decode("utf-16-be") == "退订"
        assert await posting == (200, {"parts": 1, "statuses": [0], "ok": True})
        posting = asyncio.ensure_future(smsc.post("/mo", {
            "source_addr": "1", "destination_addr": "2", "hex": "00ff", "account": "shop"}))
        [mo] = await c.collect(1)
        assert mo.short_message == b"\x00\xff"  # type: ignore[union-attr]
        assert (await posting)[0] == 200
        for bad in ({"destination_addr": "2", "text": "no source"},
                    {"source_addr": "1" * 30, "destination_addr": "2", "text": "too long"},
                    {"source_addr": "1", "destination_addr": "2", "text": "x", "account": "no"}):
            status, body = await smsc.post("/mo", bad)
            assert status == 400 and "error" in body

        # POST /fault.
        status, body = await smsc.post("/fault", {"kind": "stall", "mode": "answer"})
        assert (status, body) == (200, {"kind": "stall", "result": None})
        await c.send(EnquireLink(sequence_number=999))
        with pytest.raises(TimeoutError):
            await c.recv(timeout=0.3)
        assert (await smsc.post("/fault", {"kind": "resume"}))[0] == 200
        assert (await c.submit()).ok
        for bad in ({"kind": "meteor"}, {"kind": "refuse_binds"}, {}):
            status, body = await smsc.post("/fault", bad)
            assert status == 400 and "error" in body
        assert await smsc.post("/fault", {"kind": "drop"}) == (200, {"kind": "drop",
                                                                     "result": 1})
        assert await c.wait_closed() == []
        assert (await smsc.post("/fault", {"kind": "refuse_binds", "seconds": 30}))[0] == 200
        c = await SmppClient.connect(smsc.port)
        assert not (await c.bind()).ok
        assert (await smsc.post("/fault", {"kind": "restart", "down_for": 0}))[0] == 200
        assert (await smsc.get("/stats"))["restarts"] == 1
        assert await c.wait_closed() == []
        assert (await smsc.post("/fault", {"kind": "refuse_binds", "seconds": 0}))[0] == 200

        # SIGTERM: the bound client is unbound, and the process exits 0.
        c = await SmppClient.connect(smsc.port)
        assert (await c.bind()).ok
        smsc.proc.send_signal(signal.SIGTERM)
        unbind = await c.expect(Unbind, timeout=5)
        await c.send(unbind.response())
        assert await c.wait_closed() == []
        assert await asyncio.wait_for(smsc.proc.wait(), 10) == 0
        assert smsc.proc.stdout is not None
        assert b"unbinding clients" in await smsc.proc.stdout.read()


async def test_open_mode_warns() -> None:
    async with fakesmsc("--no-uvloop") as smsc:
        c = await SmppClient.connect(smsc.port)
        assert (await c.bind("transmitter", "anyone", "any")).ok
        smsc.proc.send_signal(signal.SIGTERM)
        assert isinstance(await c.recv(timeout=5), Unbind)  # not answered: closed anyway
        assert await asyncio.wait_for(smsc.proc.wait(), 10) == 0
        assert smsc.proc.stderr is not None
        assert b"WARNING: open mode" in await smsc.proc.stderr.read()


@pytest.mark.parametrize(("toml", "field"), [
    ('[[accounts]]\nsystem_id = "a"\ntps = "fast"\n', "$.accounts[0].tps"),
    ('[errors]\nESME_RSYSERR = 1.5\n', "errors.ESME_RSYSERR"),
])
async def test_bad_config_exits_2_naming_the_field(tmp_path: Path, toml: str,
                                                   field: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert field in err.decode() and str(config) in err.decode()
    assert out == b""


async def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "fakesmsc", "--config", str(tmp_path / "none.toml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert b"none.toml" in err


@pytest.mark.parametrize("which", ["--port", "--admin-port"])
async def test_busy_port_exits_1_with_a_message(which: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = ["--port", port] if which == "--port" else ["--port", "0", "--admin-port", port]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsengine", "fakesmsc", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 1
    assert "error: cannot " in err.decode()
    assert port in err.decode() and "Traceback" not in err.decode()


async def test_limit_flags_override_the_config(tmp_path: Path) -> None:
    config = tmp_path / "smsc.toml"
    config.write_text("pre_bind_timeout = 60.0\n" + CONFIG)
    async with fakesmsc("--config", str(config), "--pre-bind-timeout", "0.3",
                        "--max-connections-per-address", "3", "--idle-timeout", "0",
                        "--read-timeout", "5") as smsc:
        reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed before 60 s
        writer.close()
        assert (await smsc.get("/stats"))["pre_bind_timeouts"] == 1


@pytest.mark.parametrize("flag", [("--max-connections-per-address", "0"),
                                  ("--pre-bind-timeout", "-1"), ("--read-timeout", "nan")])
async def test_bad_limit_flags_exit_2(flag: tuple[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smsengine", "fakesmsc", "--port", "0", *flag,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert flag[0] in err.decode()
