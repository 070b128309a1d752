"""argparse value types shared by the command-line parsers (``smsengine``, its ``fakesmsc`` and
``bench`` commands).

A bad value becomes argparse's usual error, which names the option: ``argument --port: '99999'
is not a TCP port: give 0..65535 (0: any free port)``, exit status 2. Layer-neutral: imports
nothing from smsengine, so a parser at any level can use it.
"""

from __future__ import annotations

import argparse
from typing import Final

__all__ = ["MAX_PORT", "port", "split_host_port"]

MAX_PORT: Final = 65535


def port(text: str) -> int:
    """A TCP port to listen on: 0..65535, where 0 asks the OS for any free port."""
    value = _int(text)
    if value is None or not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a TCP port: give 0..{MAX_PORT} (0: any free port)")
    return value


def split_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` to connect to, the port 1..65535; raises ValueError saying so (``bench
    --target`` reports it as its own error, exit status 2, after parsing)."""
    host, sep, port_text = text.rpartition(":")
    value = _int(port_text)
    if not sep or not host or value is None or not 1 <= value <= MAX_PORT:
        raise ValueError(f"{text!r} is not HOST:PORT with a port 1..{MAX_PORT}")
    return host, value


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
