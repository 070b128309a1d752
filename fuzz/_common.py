"""What every harness in fuzz/ shares: the crash/hang rules, the instrumentation, the figures.

A harness calls :func:`fuzz` with its name, a function of one input, and the exception types
its decoder documents. For each input:

- an exception of a documented type is the decoder doing its job: the input is refused;
- any other exception propagates: atheris reports it as a crash and libFuzzer writes the input
  to ``-artifact_prefix`` (crash-…);
- more than ``FUZZ_HANG_SECONDS`` (1 s) of CPU time for one input is a hang: :class:`Hang` is
  raised, so it is reported and saved like a crash. CPU time, not wall time, so that a loaded
  machine does not fake one; an input that never returns is caught by libFuzzer's own
  ``-timeout`` (wall seconds, set by run.sh).

RSS is read before the first input, after the first 1 % (at least 1000 inputs: the corpus and
libFuzzer's tables have settled by then) and at the end; at exit one line
``FUZZ-STATS {json}`` goes to stderr, and to the file named by ``FUZZ_STATS_FILE`` if set.
The count of inputs is exact when the run is bounded with ``-atheris_runs=N`` (Python's atexit
does not run after libFuzzer's own ``-runs``, so run.sh and the tests use ``-atheris_runs``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import sys
import time
import types
from collections.abc import Callable, Iterable
from typing import Any

import atheris

__all__ = [
    "Hang", "event_key", "frame", "fuzz", "instrument_generated", "raised_in", "same_events",
    "touch",
]

HANG_SECONDS = float(os.environ.get("FUZZ_HANG_SECONDS", "1.0"))
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class Hang(Exception):
    """One input took more than HANG_SECONDS of CPU time."""


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE_KB


def _planned_runs(argv: list[str]) -> int | None:
    for arg in argv:
        m = re.fullmatch(r"-atheris_runs=(\d+)", arg)
        if m:
            return int(m.group(1))
    return None


def instrument_generated(prefix: str = "<smsengine") -> int:
    """Instrument the functions the codecs compile at import time (exec'd source: the import
    hook never sees them), so coverage guides the fuzzer inside the fast decoders too. They are
    found in the smsengine modules' globals, in dicts and classes there, and in closures."""
    seen: set[int] = set()
    done = 0

    def visit(obj: Any, depth: int) -> None:
        nonlocal done
        if id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        if isinstance(obj, types.FunctionType):
            if obj.__code__.co_filename.startswith(prefix):
                try:
                    atheris.instrument_func(obj)
                    done += 1
                except Exception:
                    pass
            for cell in obj.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell
                    visit(cell.cell_contents, depth + 1)
        elif isinstance(obj, dict):
            for value in list(obj.values()):
                visit(value, depth + 1)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                visit(value, depth + 1)
        elif isinstance(obj, type) and obj.__module__.startswith("smsengine"):
            for value in list(vars(obj).values()):
                visit(value, depth + 1)
        elif isinstance(obj, (staticmethod, classmethod)):
            visit(obj.__func__, depth + 1)

    for name, module in list(sys.modules.items()):
        if name.startswith("smsengine"):
            for value in list(vars(module).values()):
                visit(value, 0)
    return done


def touch(obj: object) -> None:
    """Read what a caller would read of a decoded value: its repr and every property (a
    CMPP/SMGP Deliver's ``report`` parses its content, for one)."""
    repr(obj)
    for klass in type(obj).__mro__:
        for name, attr in vars(klass).items():
            if isinstance(attr, property):
                getattr(obj, name)


def frame(make: Callable[[], Any], data: bytes, step: int,
          framing_error: type[BaseException]) -> list[Any]:
    """Feed ``data`` to a new framer in pieces of ``step`` octets; the events in order, then
    ``("framing", str(error))`` when the stream broke, then the count of octets left over."""
    framer = make()
    out: list[Any] = []
    try:
        for i in range(0, len(data), step):
            out += framer.feed(data[i : i + step])
    except framing_error as exc:
        out += exc.events  # type: ignore[attr-defined]
        out.append(("framing", str(exc)))
        return out
    out.append(framer.buffered)
    return out


def event_key(event: Any) -> Any:
    """An event as a comparable value: an InvalidPdu holds an exception, which compares by
    identity, so it is compared by its class, text, status and response."""
    if type(event).__name__ == "InvalidPdu":
        return ("invalid", type(event.error).__name__, str(event.error), event.status,
                event.response)
    return event


def same_events(whole: Iterable[Any], pieces: Iterable[Any],
                key: Callable[[Any], Any] = event_key) -> None:
    """Whole-at-once and piece-by-piece framing must give the same events (a framer that
    depends on how the transport cut the stream loses or invents PDUs)."""
    a = [key(e) for e in whole]
    b = [key(e) for e in pieces]
    if a != b:
        raise AssertionError(f"framing depends on the cuts:\n whole:  {a!r}\n pieces: {b!r}")


def raised_in(exc: BaseException, filename: str, function: str) -> bool:
    """Whether ``exc`` passed through ``function`` of a file whose path ends with
    ``filename`` (for naming a known issue precisely)."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == function and code.co_filename.endswith(filename):
            return True
        tb = tb.tb_next
    return False


def fuzz(name: str, test_one: Callable[[bytes], None],
         allowed: tuple[type[BaseException], ...],
         known: dict[str, Callable[[BaseException], bool]] | None = None) -> None:
    """Run atheris on ``test_one`` with the rules in the module docstring (never returns).

    ``known`` names crashes already reported and not yet fixed, each with a test that
    recognises it: an input raising one is counted under its name in the figures (``known``),
    printed once, and not stopped at, so the run goes on finding others. Nothing else is
    excused. Set FUZZ_STRICT=1 to stop at known crashes too."""
    known = {} if os.environ.get("FUZZ_STRICT") == "1" else dict(known or {})
    generated = instrument_generated()
    planned = _planned_runs(sys.argv)
    warm_at = max(1000, (planned or 0) // 100)
    stats: dict[str, Any] = {
        "target": name, "inputs": 0, "planned": planned, "refused": 0, "crash": None,
        "known": {},
        "max_input_cpu_s": 0.0, "generated_functions_instrumented": generated,
        "rss_before_kb": rss_kb(), "rss_warm_kb": None, "rss_after_kb": None,
    }
    started = time.monotonic()
    clock = time.process_time

    def one(data: bytes) -> None:
        t0 = clock()
        try:
            test_one(data)
        except allowed:
            stats["refused"] += 1
        except BaseException as exc:
            for issue, matches in known.items():
                if matches(exc):
                    counts = stats["known"]
                    if issue not in counts:
                        print(f"KNOWN CRASH {issue}: {type(exc).__name__}: {exc}"[:300],
                              file=sys.stderr, flush=True)
                    counts[issue] = counts.get(issue, 0) + 1
                    break
            else:
                stats["crash"] = f"{type(exc).__name__}: {exc}"[:500]
                raise
        spent = clock() - t0
        if spent > stats["max_input_cpu_s"]:
            stats["max_input_cpu_s"] = spent
            if spent > HANG_SECONDS:
                raise Hang(f"{spent:.3f} s of CPU for one input of {len(data)} octets "
                           f"(the limit is {HANG_SECONDS} s)")
        stats["inputs"] += 1
        if stats["inputs"] == warm_at:
            stats["rss_warm_kb"] = rss_kb()

    def report() -> None:
        stats["rss_after_kb"] = rss_kb()
        stats["wall_s"] = round(time.monotonic() - started, 1)
        stats["max_input_cpu_s"] = round(stats["max_input_cpu_s"], 4)
        line = json.dumps(stats)
        print(f"FUZZ-STATS {line}", file=sys.stderr, flush=True)
        path = os.environ.get("FUZZ_STATS_FILE")
        if path:
            with open(path, "w") as f:
                f.write(line + "\n")

    atexit.register(report)
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
