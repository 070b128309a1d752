"""The smsengine command: help, demo, decode and receipt."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smsengine.cli import main
from smsengine.smpp import DeliverSm, SubmitSm, Tag, Tlv


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


def test_demo_walks_through_the_codec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "SubmitSm seq=1" in out and "DeliverSm seq=77" in out and "EnquireLink seq=78" in out
    assert "stat=DELIVRD" in out
    assert "ESME_RINVCMDLEN" in out
    assert "at most 20 allowed" in out


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
