"""Fuzz target ``daemon_request``: the daemon's request decoding (smsengine.daemon.app).

Each input is the body of ``POST /v1/messages``. ``Api._decode`` reads it (one message, or
``{"messages": [...]}``) as the route does, on an ``Api`` built from a config given to
``daemon_config_from_dict`` (no gateway and no keyring: decoding needs neither); then what the
client would get is encoded as the middleware and the route encode it: a ProblemError as its
problem details, each decoded message and each per-message error as JSON.

Documented outcomes: ProblemError (a 4xx answer naming the field), and RecursionError for JSON
nested deeper than the decoders recurse, which the middleware answers 400 nested-too-deep
(5e767a7; the harness encodes that answer as the middleware does). Anything else is a crash:
it would be a 500. (The RecursionError was a 500 before 5e767a7: found by this harness.)
"""

from __future__ import annotations

from typing import Any

import atheris
from _common import fuzz, touch

with atheris.instrument_imports(include=["smsengine"]):
    import msgspec

    from smsengine.daemon.app import _PROBLEM, Api, ProblemError
    from smsengine.daemon.config import daemon_config_from_dict
    from smsengine.daemon.schema import Problem

CONFIG = daemon_config_from_dict({
    "channels": [{"name": "carrier", "host": "127.0.0.1", "port": 2775, "system_id": "shop",
                  "password": "secret"}],
    "store": {"path": "/nonexistent/fuzz.sqlite3"},  # never opened
})
API = Api(CONFIG, None, None)  # type: ignore[arg-type]
_encode = msgspec.json.Encoder().encode


def _problem(exc: ProblemError) -> None:
    _encode(Problem(type=_PROBLEM + exc.kind, title=exc.title, status=exc.status,
                    detail=exc.detail, instance="/v1/messages", request_id=None,
                    errors=exc.errors, limit=exc.limit))
    if not 400 <= exc.status < 500:
        raise AssertionError(f"a bad body answered {exc.status}") from exc


def test_one(data: bytes) -> None:
    try:
        items, _batch = API._decode(data)
    except ProblemError as exc:
        _problem(exc)
        raise
    except RecursionError:
        # As make_app's middleware answers it.
        _problem(ProblemError(400, "nested-too-deep", "Malformed JSON",
                              "the JSON is nested too deeply to be read"))
        raise
    item: Any
    for item in items:
        touch(item)
        _encode(item)


if __name__ == "__main__":
    fuzz("daemon_request", test_one, (ProblemError, RecursionError))
