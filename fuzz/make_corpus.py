"""Write the seed corpus in fuzz/corpus/<target>/ from the tests' golden vectors and examples.

    .venv/bin/python fuzz/make_corpus.py

Seeds are what the fuzzer mutates first, so they are valid inputs of every kind (each PDU of
each protocol, receipts in the carriers' variants, whole config files, request bodies) plus a
few streams that break in known ways. Each target's seeds stay small (a few KB): the 10⁶ runs
find the rest. Files are named by what they are; running this again rewrites the directories.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
sys.path.insert(0, str(ROOT))

LIMIT = 6000  # octets of seeds per target, at most


def golden(proto: str) -> list[tuple[str, bytes]]:
    """(name, octets) of every hex vector a protocol's test_golden.py defines."""
    module = importlib.import_module(f"tests.{proto}.test_golden")
    found: list[tuple[str, bytes]] = []

    def add(name: str, text: object) -> None:
        if not isinstance(text, str):
            return
        try:
            octets = module.unhex(text)
        except Exception:  # not a vector
            return
        if len(octets) >= 12:
            found.append((name.lower(), octets))

    for name, value in vars(module).items():
        if name.isupper():
            add(name, value)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], str):
                        add(item[0], item[1])
    return found


def strings_in(path: Path, needle: bytes) -> list[bytes]:
    """String and bytes literals of a test file that contain ``needle``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            value = node.value.encode("utf-8") if isinstance(node.value, str) else node.value
            if needle in value:
                out.append(value)
    return out


def strip_comments(toml: str) -> bytes:
    lines = [re.sub(r"\s+#.*$", "", line) for line in toml.splitlines()
             if not line.lstrip().startswith("#")]
    return "\n".join(line for line in lines if line.strip()).encode() + b"\n"


def write(target: str, seeds: Iterable[tuple[str, bytes]]) -> None:
    where = CORPUS / target
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    seen: set[bytes] = set()
    total = 0
    for name, octets in seeds:
        if octets in seen or total + len(octets) > LIMIT:
            continue
        seen.add(octets)
        total += len(octets)
        safe = re.sub(r"[^a-z0-9_.-]+", "_", name.lower()).strip("_")[:60]
        (where / safe).write_bytes(octets)
    print(f"{target}: {len(seen)} seeds, {total} octets")


def streams(vectors: list[tuple[str, bytes]], bad_length: bytes) -> list[tuple[str, bytes]]:
    """Two PDUs in one stream, and one followed by a length the framer refuses."""
    if len(vectors) < 2:
        return []
    (a, x), (b, y) = vectors[0], vectors[-1]
    return [(f"stream_{a}_{b}", x + y), (f"stream_{a}_bad_length", x + bad_length)]


def protocols() -> None:
    for proto in ("smpp", "cmpp", "sgip", "smgp"):
        vectors = golden(proto)
        # Shortest first, so the budget holds one of each kind rather than a few big ones.
        vectors.sort(key=lambda v: len(v[1]))
        bad = b"\x00\x00\x00\x05" + b"\x00" * 8
        write(proto, [*streams(vectors, bad), *vectors])


def receipts() -> list[tuple[str, bytes]]:
    from smsengine.cmpp import Report as CmppReport
    from smsengine.cmpp import Version, encode_report
    from smsengine.smgp import Report as SmgpReport
    from smsengine.smgp import ReportStyle
    from smsengine.smgp import encode_report as smgp_encode_report

    seeds: list[tuple[str, bytes]] = []
    for i, text in enumerate(strings_in(ROOT / "tests/smpp/test_receipt.py", b"id:")[:24]):
        seeds.append((f"smpp_receipt_{i:02d}", text))
    smgp = SmgpReport(msg_id=bytes.fromhex("00010203040506070809"), submit_date="2401011200",
                      done_date="2401011201", stat="DELIVRD", text=b"012hello")
    for style in ReportStyle:
        seeds.append((f"smgp_report_{style.value}", smgp_encode_report(smgp, style)))
    cmpp = CmppReport(msg_id=0x1234567890ABCDEF, stat="DELIVRD", submit_time="2401011200",
                      done_time="2401011201", dest_terminal_id="8613800138000",
                      smsc_sequence=7)
    for version in (Version.V20, Version.V30):
        seeds.append((f"cmpp_report_{version:x}", encode_report(cmpp, version)))
    seeds += [("msgid_cmpp_fields", b"0115120301000123400001"),
              ("msgid_hex", b"0x1234567890abcdef"), ("msgid_smgp", b"00010203040506070809")]
    return seeds


def main() -> None:
    protocols()
    write("receipt", receipts())

    smpp = golden("smpp")
    smpp.sort(key=lambda v: len(v[1]))
    cli = [(name, octets) for name, octets in smpp]
    cli += [("text_hex_with_colons", b"!00:00:00:10 00000015 00000000 00000001"),
            ("text_receipt", b"!id:1 sub:001 dlvrd:001 submit date:2401011200 "
                             b"done date:2401011201 stat:DELIVRD err:000 text:hi"),
            ("text_not_hex", b"!zz"), ("text_option", b"!--help"),
            # A crash found by this target: octets the locale cannot decode, in receipt text.
            ("text_receipt_undecodable", b"!id:\xff1 stat:DELIVRD")]
    write("cli_decode", [*cli[-5:], *cli[:-5]])

    deep = b"channels = " + b"[" * 1100 + b"]" * 1100 + b"\n"
    engine = [("engine_example", strip_comments((ROOT / "examples/engine.toml").read_text())),
              ("smsengine_example",
               strip_comments((ROOT / "examples/smsengine.toml").read_text())),
              ("deep_nesting", deep)]
    write("engine_config", engine)

    fake = importlib.import_module("tests.fakesmsc.test_config")
    write("fakesmsc_config", [("good", fake.GOOD.encode()), ("empty", b"\n"),
                              ("deep_nesting", deep.replace(b"channels", b"accounts"))])

    bad = importlib.import_module("tests.daemon.test_bad_requests")
    import msgspec

    bodies = [("good", msgspec.json.encode(bad.GOOD)),
              ("batch", msgspec.json.encode({"messages": [bad.GOOD, {**bad.GOOD, "kind": "otp",
                                             "send_at": "2030-01-01T00:00:00Z",
                                             "metadata": {"a": 1, "b": None}}]}))]
    for case in bad.CASES:
        name, method, path, body = case[:4]
        if method == "POST" and path == "/v1/messages" and body is not None:
            raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
            if len(raw) < 1000:
                bodies.append((name, raw))
    # A crash this target found (a 500 before 5e767a7).
    bodies.append(("deep_json", b'{"to": ' + b"[" * 3000))
    write("daemon_request", bodies)


if __name__ == "__main__":
    main()
