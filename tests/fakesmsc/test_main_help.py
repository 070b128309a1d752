"""``smsengine fakesmsc --help`` documents the admin API: every route the admin server serves
and every fault kind ``POST /fault`` takes, read from the code, so a new endpoint or fault
cannot go undocumented."""

from __future__ import annotations

import inspect
import re

import pytest

from smsengine.cli import main
from smsengine.fakesmsc import FakeSMSC
from smsengine.fakesmsc import main as fakesmsc_main


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(["fakesmsc", "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


async def test_every_admin_route_is_in_the_help(smsc: FakeSMSC,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    runner, _ = await fakesmsc_main._start_admin(smsc, "127.0.0.1", 0)
    try:
        routes = {(route.method, route.resource.canonical)
                  for route in runner.app.router.routes()
                  if route.method != "HEAD" and route.resource is not None}
    finally:
        await runner.cleanup()
    assert {path for _, path in routes} >= {"/stats", "/binds", "/ledger", "/mo", "/fault"}
    text = _help(capsys)
    missing = [f"{method} {path}" for method, path in sorted(routes)
               if not re.search(rf"^\s+{method}\s+{re.escape(path)}\s", text, re.MULTILINE)]
    assert not missing, f"not in `smsengine fakesmsc --help`: {missing}"


def test_every_fault_kind_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    kinds = re.findall(r'kind == "(\w+)"', inspect.getsource(fakesmsc_main._start_admin))
    assert len(kinds) >= 8  # drop, stall, resume, garbage, unbind, refuse_binds, restart, …
    text = _help(capsys)
    missing = [k for k in kinds if not re.search(rf"^\s+{k}\s", text, re.MULTILINE)]
    assert not missing, f"fault kinds not in `smsengine fakesmsc --help`: {missing}"


def test_the_help_keeps_its_layout(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The epilog is printed as written (argparse would otherwise refill it into one
    paragraph), and all of it fits an 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")  # (argparse wraps the options to the terminal)
    text = _help(capsys)
    assert "\n  GET  /stats " in text and "\n  POST /fault " in text
    assert max(len(line) for line in text.splitlines()) <= 80
