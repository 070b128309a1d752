"""The public surface of smsengine.sgip, its doctest, and the layering: sans-I/O, and no
protocol imported from another."""

from __future__ import annotations

import ast
import doctest
import pathlib
import subprocess
import sys

import smsengine.sgip as sgip

SOURCE = pathlib.Path(sgip.__file__).parent
FORBIDDEN_STDLIB = {"asyncio", "socket", "time", "selectors", "threading", "datetime"}
ALLOWED_SMSENGINE = {"smsengine.text", "smsengine.link"}


def test_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(sgip) if not n.startswith("_")}
    modules = {"constants", "errors", "framer", "pdu", "sequence", "session"}
    assert set(sgip.__all__) == public - modules
    assert len(sgip.__all__) == len(set(sgip.__all__))
    for name in sgip.__all__:
        assert getattr(sgip, name) is not None


def test_doctest() -> None:
    assert doctest.testmod(sgip).failed == 0


def _imports(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_layer_1_imports_only_the_stdlib_msgspec_and_text() -> None:
    for path in sorted(SOURCE.glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN_STDLIB, f"{path.name} imports {name}"
            if top == "smsengine":
                assert any(name == a or name.startswith(a + ".") for a in ALLOWED_SMSENGINE), (
                    f"{path.name} imports {name}: no protocol imports another"
                )


def test_importing_the_codec_loads_no_event_loop_and_no_other_protocol() -> None:
    code = (
        "import sys, smsengine.sgip; "
        "print(sorted(m for m in ('asyncio', 'socket', 'smsengine.smpp', 'smsengine.cmpp') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
