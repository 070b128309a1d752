"""The public surface of smsengine.cmpp, its doctest, and that it stays sans-I/O."""

from __future__ import annotations

import doctest
import subprocess
import sys

import smsengine.cmpp as cmpp


def test_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(cmpp) if not n.startswith("_")}
    modules = {"auth", "constants", "errors", "framer", "msgid", "pdu", "session"}
    assert set(cmpp.__all__) == public - modules
    assert len(cmpp.__all__) == len(set(cmpp.__all__))
    for name in cmpp.__all__:
        assert getattr(cmpp, name) is not None


def test_doctest() -> None:
    assert doctest.testmod(cmpp).failed == 0


def test_importing_the_codec_loads_no_event_loop() -> None:
    code = "import sys, smsengine.cmpp; print('asyncio' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
