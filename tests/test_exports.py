"""The public surface is explicit, and the layers only import downwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import smsengine
import smsengine.smpp as smpp

ROOT = Path(smsengine.__file__).parent


def test_smpp_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(smpp) if not n.startswith("_")}
    modules = {"constants", "errors", "framer", "pdu", "receipt", "session", "tlv"}
    assert set(smpp.__all__) == public - modules
    assert len(smpp.__all__) == len(set(smpp.__all__))
    for name in smpp.__all__:
        assert getattr(smpp, name) is not None


def test_package_exports_version() -> None:
    assert smsengine.__all__ == ["__version__"]
    assert smsengine.__version__.count(".") == 2


# Layer of each top-level package; a module may import only its own layer or lower ones.
LAYERS = {"link": 1, "smpp": 1, "cmpp": 1, "sgip": 1, "smgp": 1, "text": 2}
SANS_IO = {"link", "smpp", "cmpp", "sgip", "smgp", "text"}
FORBIDDEN_IN_SANS_IO = {"asyncio", "socket", "time", "uvloop", "ssl", "selectors"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module)
                if node.module == "smsengine":  # from smsengine import smpp
                    names.update(f"smsengine.{alias.name}" for alias in node.names)
            elif node.level == 2 and node.module:  # from ..text import x
                names.add(f"smsengine.{node.module}")
            elif node.level == 2:  # from .. import link
                names.update(f"smsengine.{alias.name}" for alias in node.names)
    return names


def test_sans_io_layers_import_no_io_and_nothing_higher() -> None:
    for package in SANS_IO:
        folder = ROOT / package
        if not folder.exists():
            continue
        for path in folder.rglob("*.py"):
            for name in _imports(path):
                top = name.split(".")[0]
                assert top not in FORBIDDEN_IN_SANS_IO, f"{path} imports {name}"
                if name.startswith("smsengine."):
                    other = name.split(".")[1]
                    assert other in LAYERS, f"{path} imports higher layer {name}"
                    assert LAYERS[other] <= LAYERS[package], f"{path} imports {name}"


def test_importing_the_codec_loads_no_event_loop() -> None:
    code = "import sys, smsengine.smpp; print('asyncio' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


# Every package's layer (STYLE 5): nothing imports a higher one.
ALL_LAYERS = {"link": 1, "smpp": 1, "cmpp": 1, "sgip": 1, "smgp": 1, "text": 2, "bind": 3,
              "engine": 4, "policy": 4, "fakesmsc": 5, "demo": 5, "bench": 5, "cli": 5,
              "daemon": 5, "metrics": 5, "cluster": 4}


def test_no_package_imports_a_higher_layer() -> None:
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        own = rel[0].removesuffix(".py")
        if own not in ALL_LAYERS:
            continue
        for name in _imports(path):
            if not name.startswith("smsengine."):
                continue
            other = name.split(".")[1]
            if other in ALL_LAYERS:
                assert ALL_LAYERS[other] <= ALL_LAYERS[own], f"{path} imports {name}"


# The wire protocols (issue 22): each stands on link/ alone. link/ knows none of them, and no
# protocol imports another, so a protocol is a folder that can be read (and removed) by itself.
PROTOCOLS = {"smpp", "cmpp", "sgip", "smgp"}


def test_link_imports_no_protocol_and_no_protocol_another() -> None:
    for package in PROTOCOLS | {"link"}:
        folder = ROOT / package
        for path in folder.rglob("*.py"):
            for name in _imports(path):
                if not name.startswith("smsengine."):
                    continue
                other = name.split(".")[1]
                if package == "link":
                    assert other == "link", f"{path} imports {name}"
                else:
                    assert other not in PROTOCOLS - {package}, f"{path} imports {name}"
