"""Fuzz target ``engine_config``: the engine's TOML config (smsengine.engine.config), and what
the daemon's config adds on top of it (smsengine.daemon.config).

Each input is a config file's octets:

- ``load_engine_config`` of the file (written to a file in /dev/shm, as the daemon and the
  examples load it): TOML, then the conversion and the checks; the config's repr;
- ``load_daemon_config`` of the same file: the daemon's sections (``[server]``, ``[store]``,
  ``[[api_keys]]``) and the engine part, as ``smsengine serve --config`` reads it.

Documented errors: EngineConfigError and DaemonConfigError (both ValueError subclasses naming
the field). Anything else is a crash.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import atheris
from _common import fuzz, touch

with atheris.instrument_imports(include=["smsengine"]):
    from smsengine.daemon.config import DaemonConfigError, load_daemon_config
    from smsengine.engine.config import EngineConfigError, load_engine_config

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
_FD, PATH = tempfile.mkstemp(prefix="fuzz-engine-config-", suffix=".toml", dir=_DIR)
os.close(_FD)


def test_one(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    with contextlib.suppress(EngineConfigError):
        touch(load_engine_config(PATH))
    with contextlib.suppress(DaemonConfigError):
        touch(load_daemon_config(PATH))


if __name__ == "__main__":
    import atexit

    atexit.register(os.unlink, PATH)
    fuzz("engine_config", test_one, (EngineConfigError, DaemonConfigError))
