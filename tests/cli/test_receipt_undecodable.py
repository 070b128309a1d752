"""``smsengine receipt`` given octets the locale cannot decode (found by fuzz/cli_decode.py).

Python's argv holds such octets as lone surrogates; printing them to a strict UTF-8 stdout (a
terminal in a UTF-8 locale) raised UnicodeEncodeError. The argument's octets are now read as a
receipt's octets are read, Latin-1, so the fields print.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

from smsengine.cli import main


def test_undecodable_octets_in_process() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with contextlib.redirect_stdout(out):
        assert main(["receipt", "id:\udcff1 stat:DELIVRD"]) == 0
        out.flush()
    fields = json.loads(out.buffer.getvalue())  # type: ignore[attr-defined]
    assert fields["id"] == "\xff1"
    assert fields["state"] == "DELIVERED"


def test_undecodable_octets_from_the_command_line() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [sys.executable, "-m", "smsengine", "receipt", b"id:\xff1 stat:DELIVRD"],
        capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout)["id"] == "\xff1"


def test_utf8_text_is_kept() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with contextlib.redirect_stdout(out):
        assert main(["receipt", "id:1 stat:DELIVRD text:你好"]) == 0
        out.flush()
    assert json.loads(out.buffer.getvalue())["text"] == "你好"  # type: ignore[attr-defined]
