"""What ``smsengine demo`` says, as a newcomer reads it: "flow" is explained, a refusal the
engine made itself is named as one (no SMPP status, the number once), and it ends by pointing
to examples/."""

from __future__ import annotations

import functools
import re
import subprocess
import sys

from smsengine.demo import FLOW_STATES
from smsengine.engine.flow import AimdRate


@functools.cache
def _demo() -> str:
    """One short run (about 2 s), as a user runs it: the installed command, in a pipe."""
    proc = subprocess.run(
        [sys.executable, "-m", "smsengine", "demo", "--messages", "200"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_flow_is_explained() -> None:
    out = _demo()
    legend = [line for line in out.splitlines() if line.startswith("flow = ")]
    assert len(legend) == 1, out
    assert "flow control" in legend[0]
    for state in ("open", "throttled", "slow", "recovering"):
        assert re.search(rf"\b{state} \(", legend[0]), legend[0]
    # The summary says what the state it shows means.
    assert re.search(r"carrier: flow \w+ \([^)]+\)", out), out


def test_the_legend_names_every_state_of_the_flow_controller() -> None:
    """The states AimdRate can be in, reached through its own methods, are those the demo
    explains (a state renamed or added in engine/flow.py fails here)."""
    flow = AimdRate(100.0, now=0.0, latency_limit=1.0)
    seen = {flow.state}
    flow.on_throttled(now=1.0, goodput=50.0)
    seen.add(flow.state)
    flow.recover(now=3.0)
    seen.add(flow.state)
    flow.on_response(5.0, now=10.0)  # slower than latency_limit
    seen.add(flow.state)
    # Half refused whatever the rate: the second cut, tested, is undone.
    flow = AimdRate(100.0, now=0.0)
    sent, now, owed = 0, 0.0, 0.0
    while flow.state != "refusing" and now < 10:
        now += 0.01
        owed += flow.rate * 0.01
        while owed >= 1:
            owed -= 1
            sent += 1
            if sent % 2:
                flow.on_response(0.01, now)
            else:
                flow.on_throttled(now)
        flow.recover(now)  # (it samples the counts, as the channel's tick has it do)
    seen.add(flow.state)
    assert seen == set(FLOW_STATES)


def test_an_opt_out_is_a_local_refusal_named_once() -> None:
    out = _demo()
    found = re.search(r"MO from (\d+): '退订'", out)
    assert found is not None, out
    number = found.group(1)
    refusals = [line for line in out.splitlines() if "refused locally (" in line]
    assert refusals == [f"    {number} refused locally (opted out of marketing), never sent to "
                        "the carrier"], out
    # No SMPP status for a refusal no carrier made, and never the number twice on a line.
    assert "ESME_" not in out
    assert all(line.count(number) <= 1 for line in out.splitlines()), out
    row = next(line for line in out.splitlines() if "refused locally: opted out" in line)
    assert [int(n) for n in re.findall(r"\d+", row)] == [0, 0, 1, 1]


def test_it_ends_by_pointing_to_the_examples() -> None:
    last = [line for line in _demo().splitlines() if line.strip()][-1]
    assert last.startswith("next: examples/") and "engine.toml" in last


def test_a_code_asked_again_at_once_is_refused_by_the_frequency_cap() -> None:
    """policy.FrequencyCaps in the demo's flow: the refusal names its rule and when to retry,
    and the summary counts it."""
    out = _demo()
    lines = [line for line in out.splitlines() if "refused by the frequency cap" in line]
    assert len(lines) == 1, out
    found = re.fullmatch(r"  OTP code again to (\d+): refused by the frequency cap \(rule 1 per "
                         r"minute per number, retry after (\d+) s\), never sent to the carrier",
                         lines[0])
    assert found is not None, lines[0]
    assert 1 <= int(found.group(2)) <= 60
    assert re.search(r"frequency caps\W+1 OTP code refused \(1 per minute per number\)", out), out
