"""The smsengine command: help, demo (engine and codec), decode and receipt."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys

import pytest
from rich.console import Console

from smsengine.cli import main
from smsengine.demo import run_demo
from smsengine.engine import MessageRefusedError, MessageState
from smsengine.smpp import CommandStatus, DeliverSm, SubmitSm, Tag, Tlv


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "decode", "receipt"):
        assert command in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: smsengine" in capsys.readouterr().out


def test_console_script_runs_as_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smsengine", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("smsengine ")


def test_demo_codec_walks_through_the_codec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--codec"]) == 0
    out = capsys.readouterr().out
    assert "SubmitSm seq=1" in out and "DeliverSm seq=77" in out and "EnquireLink seq=78" in out
    assert "stat=DELIVRD" in out
    assert "ESME_RINVCMDLEN" in out
    assert "at most 20 allowed" in out


def _row(out: str, label: str) -> list[int]:
    """The numbers in the summary table's row ``label`` (columns: OTP, notices, marketing,
    total)."""
    line = next(ln for ln in out.splitlines() if re.match(rf"\W*{label}\s*\W", ln))
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line)]


def test_demo_sends_the_mix_and_summarises_it(capsys: pytest.CaptureFixture[str]) -> None:
    # In-process and without a TTY (capsys): the plain-progress path, as in CI or a pipe.
    assert main(["demo", "--messages", "300", "--tps", "500"]) == 0
    out = capsys.readouterr().out
    assert "every message reached a final state." in out
    assert "not final" not in out
    matched, requested = map(int, re.search(
        r"([\d,]+) matched of ([\d,]+) requested", out).groups())  # type: ignore[union-attr]
    assert matched == requested > 300
    opted_out = re.search(r"MO from (\d+): '退订'", out)
    assert opted_out is not None
    number = opted_out.group(1)
    assert f"1 marketing refused ({number} replied 退订)" in out
    assert f"{number} refused locally (opted out of marketing)" in out  # (test_demo_output)
    messages = _row(out, "messages")
    assert messages[2] == 300 and messages[3] == sum(messages[:3])
    assert _row(out, "refused locally: opted out") == [0, 0, 1, 1]
    # Receipts are 95% DELIVRD: every OTP ends delivered, undeliverable or expired, most
    # delivered; none is refused, failed or unknown.
    otp = messages[0]
    finals = [_row(out, label)[0] for label in ("delivered", "undeliverable", "expired")]
    assert sum(finals) == otp and finals[0] >= otp // 2
    assert _row(out, "failed")[3] == 0 and _row(out, "unknown")[3] == 0
    assert re.search(r"p50 [\d.]+ ms, p99 [\d.]+ ms", out)
    assert re.search(r"[\d,]+ msgs/s", out)
    assert "carrier: flow open" in out


def test_demo_report() -> None:
    report = asyncio.run(run_demo(200, 1000.0, seed=3,
                                  console=Console(file=io.StringIO(), highlight=False)))
    assert report.all_final
    assert report.receipts_matched == report.receipts_requested
    otp = report.handles["otp"]
    assert otp and all(h.state.final and h.error is None for h in otp)
    assert all(h.state is MessageState.DELIVERED for h in otp
               if h.state not in (MessageState.UNDELIVERABLE, MessageState.EXPIRED))
    assert report.counts("notification")["refused"] == 0
    assert all(len(h.segments) > 1 for h in report.handles["notification"])  # long: parts
    # The one who replied 退订 got the announcement; the reminder to them was refused, with
    # the status that says so, and nothing else was.
    to_them = [h for h in report.handles["marketing"] if h.message.destination == report.opted_out]
    assert [h.state for h in to_them] == [MessageState.DELIVERED, MessageState.FAILED]
    refused = [h for h in report.handles["marketing"] if isinstance(h.error, MessageRefusedError)]
    assert [h.message.destination for h in refused] == [report.opted_out]
    assert refused[0].status == CommandStatus.ESME_RX_R_APPN
    assert report.opt_outs_honoured == 1 and report.suppressed == 1


def test_demo_exits_0_in_a_pipe() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smsengine", "demo", "--messages", "60", "--tps", "1000"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Final states" in proc.stdout and "every message reached a final state." in proc.stdout
    assert "\x1b[" not in proc.stdout  # no terminal control codes in a pipe


def test_demo_rejects_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--messages", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_decode_prints_each_pdu_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    submit = SubmitSm(sequence_number=3, destination_addr="123", short_message=b"hi")
    receipt = DeliverSm(sequence_number=4, tlvs=(Tlv(Tag.message_state, 2),))
    assert main(["decode", submit.encode().hex(), receipt.encode().hex()]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["command"] == "submit_sm"
    assert first["destination_addr"] == "123"
    assert first["short_message"] == {"hex": "6869", "text": "hi"}
    assert second["tlvs"] == {"message_state": 2}


def test_decode_reports_bad_pdus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "00000010000000990000000000000005"]) == 1
    event = json.loads(capsys.readouterr().out)
    assert event["status"] == "ESME_RINVCMDID"
    assert event["reply"]["command"] == "generic_nack"
    assert main(["decode", "zz"]) == 2
    assert "not hex" in capsys.readouterr().err
    assert main(["decode", "0000000f"]) == 1
    assert "below the minimum" in capsys.readouterr().err
    assert main(["decode", "00000010000000150000"]) == 1
    assert "trailing octets" in capsys.readouterr().err


def test_receipt_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = "ID:0A1B SUB:001 DLVRD:000 SUBMIT DATE:261123120001 DONE DATE:261123120159 " \
        "STAT:UNDELIV ERR:A01 TEXT:x"
    assert main(["receipt", text]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["id"] == "0A1B"
    assert fields["state"] == "UNDELIVERABLE"
    assert fields["err"] == "A01"
    assert fields["done_at"] == "2026-11-23T12:01:59"
    assert main(["receipt", "no receipt here"]) == 1
    assert "no id" in capsys.readouterr().err
