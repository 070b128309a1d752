"""The public surface of smsengine.smgp, its doctests, and that it stays a layer-1 codec:
sans-I/O, and importing no other protocol."""

from __future__ import annotations

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import smsengine.smgp as smgp
import smsengine.smgp.msgid

MODULES = {"auth", "constants", "errors", "framer", "msgid", "pdu", "report", "session"}
SOURCE = Path(smgp.__file__).parent


def test_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(smgp) if not n.startswith("_")}
    assert set(smgp.__all__) == public - MODULES
    assert len(smgp.__all__) == len(set(smgp.__all__))
    for name in smgp.__all__:
        assert getattr(smgp, name) is not None


def test_doctests() -> None:
    assert doctest.testmod(smgp).failed == 0
    assert doctest.testmod(smsengine.smgp.msgid).failed == 0


def test_imports_only_the_standard_library_msgspec_and_itself() -> None:
    allowed_std = {"__future__", "enum", "hashlib", "hmac", "re", "struct", "typing",
                   "collections"}  # fmt: skip
    for path in sorted(SOURCE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    continue  # relative: this package
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed_std | {"msgspec"} or name.startswith("smsengine.text"), (
                    f"{path.name} imports {name}"
                )


def test_importing_the_codec_loads_no_event_loop_socket_or_other_protocol() -> None:
    code = (
        "import sys, smsengine.smgp; "
        "print(sorted(m for m in ('asyncio', 'socket', 'smsengine.smpp', 'smsengine.cmpp', "
        "'smsengine.sgip') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
