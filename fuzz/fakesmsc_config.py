"""Fuzz target ``fakesmsc_config``: the fake SMSC's TOML config (smsengine.fakesmsc.config).

Each input is a config file's octets: ``load_config`` of the file (written to a file in
/dev/shm), then the config's repr and properties; and ``config_from_dict`` on the TOML decoded
as plain data.

Documented error: ConfigError (a ValueError subclass naming the field). Anything else is a
crash.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import atheris
from _common import fuzz, touch

with atheris.instrument_imports(include=["smsengine"]):
    import msgspec

    from smsengine.fakesmsc.config import ConfigError, config_from_dict, load_config

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
_FD, PATH = tempfile.mkstemp(prefix="fuzz-fakesmsc-config-", suffix=".toml", dir=_DIR)
os.close(_FD)


def test_one(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    with contextlib.suppress(ConfigError):
        touch(load_config(PATH))
    try:
        raw = msgspec.toml.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return  # load_config above had the same input: it must have said so clearly
    with contextlib.suppress(ConfigError):
        touch(config_from_dict(raw))


if __name__ == "__main__":
    import atexit

    atexit.register(os.unlink, PATH)
    fuzz("fakesmsc_config", test_one, (ConfigError,))
