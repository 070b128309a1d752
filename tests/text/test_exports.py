"""The public surface of smsengine.text, its doctest, and its place in the layers."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import smsengine.text as text

EXPECTED = {
    "DEFAULT_ENCODINGS", "MAX_PARTS", "USER_DATA_OCTETS",
    "ConcatInfo", "Count", "Encoding", "InformationElement", "MessageTooLongError", "Part",
    "Reassembled", "Reassembler", "ReferenceCounter", "Split", "SplitMethod",
    "TextDecodeError", "TextError", "UdhError", "UnencodableTextError", "UserDataHeader",
    "capacity", "choose_encoding", "concat_udh", "count", "decode", "encode",
    "encoding_for_data_coding", "encoding_for_msg_fmt", "first_unencodable", "parse_udh",
    "single_part", "split",
}  # fmt: skip


def test_exports() -> None:
    assert set(text.__all__) == EXPECTED
    for name in text.__all__:
        assert getattr(text, name) is not None


def test_errors_are_value_errors_that_do_not_retry() -> None:
    for name in ("TextError", "UnencodableTextError", "MessageTooLongError", "TextDecodeError",
                 "UdhError"):  # fmt: skip
        cls = getattr(text, name)
        assert issubclass(cls, text.TextError) and issubclass(cls, ValueError)
        assert cls.retriable is False


def test_doctest() -> None:
    assert doctest.testmod(text).failed == 0


def test_sans_io_and_below_the_protocol_layers() -> None:
    # A fresh interpreter: importing the text layer pulls in no asyncio and no protocol layer.
    code = (
        "import sys, smsengine.text; "
        "bad = [m for m in sys.modules if m == 'asyncio' or m.startswith('smsengine.smpp')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for path in Path(text.__file__).parent.glob("*.py"):
        source = path.read_text()
        for forbidden in ("asyncio", "import time", "smsengine.smpp", "from ..", "smpplib"):
            assert forbidden not in source, f"{path.name} has {forbidden!r}"
