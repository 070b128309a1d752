"""Fuzz target ``cli_decode``: ``smsengine decode HEX…`` (and ``smsengine receipt TEXT``).

``smsengine.cli``'s main runs in-process with its output going to a strict UTF-8 stream, like a
terminal's stdout in a UTF-8 locale. An input is read one of two ways:

- most inputs: their octets as the hex ``decode`` is given (as one argument, and split into
  arguments at each 64 octets and joined with colons, which ``decode`` also accepts): the
  framer, the decoders and the JSON of every PDU or InvalidPdu;
- an input starting with ``!``: the rest is the command line's own text (split at spaces; as
  Python's argv holds it, undecodable octets as surrogates), for ``decode`` and for
  ``receipt``.

Documented outcomes: exit status 0, 1 (something did not decode) or 2 (not hex); argparse's
SystemExit(0) for ``--help`` and SystemExit(2) for a usage error (an argument that looks like
an unknown option). Anything else,
including any exception, is a crash.
"""

from __future__ import annotations

import contextlib
import io

import atheris
from _common import fuzz

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine.cli import build_parser, main

# smsengine.cli.main builds the parser on every call (argparse: about 1 ms, most of each input
# here), then parses and runs the command. The harness builds it once and does the rest as
# main does; the first input goes through main itself.
PARSER = build_parser()
_calls = 0


def _main(argv: list[str]) -> int:
    global _calls
    _calls += 1
    if _calls == 1:
        return main(argv)
    args = PARSER.parse_args(argv)
    if args.command is None:
        PARSER.print_help()
        return 0
    status: int = args.func(args)
    return status


def _run(argv: list[str]) -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = _main(argv)
            out.flush()
    except SystemExit as exc:
        if exc.code not in (0, 2):  # argparse: --help, or a usage error
            raise AssertionError(f"SystemExit({exc.code!r}) for {argv!r}") from None
        return
    if status not in (0, 1, 2):
        raise AssertionError(f"exit status {status!r} for {argv!r}")


def test_one(data: bytes) -> None:
    if data[:1] == b"!":
        text = data[1:].decode("utf-8", "surrogateescape")
        _run(["decode", *text.split(" ")])
        _run(["receipt", text])
        return
    hexed = data.hex()
    _run(["decode", hexed])
    if len(data) > 64:
        _run(["decode", *(":".join(data[i : i + 64].hex(" ").split(" "))
                          for i in range(0, len(data), 64))])


if __name__ == "__main__":
    fuzz("cli_decode", test_one, ())
