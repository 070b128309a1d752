"""Issue 16, item 7: port options are range-checked by argparse, with an error that names the
option and the range, instead of a wrapped port (99999 listened on 34463) or a getaddrinfo
error (-1).

``--port 0`` and ``--admin-port 0`` mean "any free port" to the fake SMSC (it prints the one
it got), so a port to listen on is 0..65535; a port to connect to (``bench --target``)
1..65535, checked by the bench command itself (it returns 2, as the parser would).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from smsengine._args import port, split_host_port
from smsengine.cli import build_parser, main

OUT_OF_RANGE = ["99999", "65536", "-1", "x", "", "80.5"]


@pytest.mark.parametrize("text", ["0", "1", "2775", "65535"])
def test_port_accepts_0_to_65535(text: str) -> None:
    assert port(text) == int(text)


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_port_refuses_anything_else_naming_the_range(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"0\.\.65535"):
        port(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:2775", ("127.0.0.1", 2775)), ("carrier.example:1", ("carrier.example", 1)),
    ("h:65535", ("h", 65535))])
def test_split_host_port_takes_a_port_to_connect_to(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize("text", ["h:0", "h:99999", "h:-1", "h:", ":2775", "h", "h:x"])
def test_split_host_port_refuses_anything_else_naming_the_range(text: str) -> None:
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        split_host_port(text)


def test_bench_target_out_of_range_is_refused_before_the_run() -> None:
    """The real command, as a user runs it: exit 2 and a message naming --target and the
    range, not a traceback from the engine's config check (what 127.0.0.1:99999 gave)."""
    proc = subprocess.run(
        [sys.executable, "-m", "smsengine", "bench", "--target", "127.0.0.1:99999"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--target" in proc.stderr and "1..65535" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_target_port_0_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--target", "127.0.0.1:0"]) == 2
    assert "--target" in capsys.readouterr().err


def test_fakesmsc_port_0_still_means_any_free_port() -> None:
    args = build_parser().parse_args(["fakesmsc", "--port", "0", "--admin-port", "0"])
    assert (args.port, args.admin_port) == (0, 0)


# Parsed only (build_parser, as main does first): run in full, an unchecked --port 99999 would
# start a server that never exits.
@pytest.mark.parametrize("option", ["--port", "--admin-port"])
@pytest.mark.parametrize("text", ["99999", "-1", "65536"])
def test_fakesmsc_refuses_an_out_of_range_port(
        option: str, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["fakesmsc", option, text])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "0..65535" in err
