"""A service a test needs and this machine lacks (a browser, schemathesis, a redis-server
binary, a tmpfs mount): on a laptop the test skips, loudly (a warning and a line on stderr); under
``CI=true`` it fails, so CI never counts a test it did not run."""

from __future__ import annotations

import os
import sys
import warnings
from typing import NoReturn

import pytest

__all__ = ["in_ci", "unavailable"]


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set to true, 1 or yes, as CI services set it)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: str, *, module: bool = False) -> NoReturn:
    """``what`` cannot run here because of ``reason``: fail under CI=true, else skip loudly
    (``module``: the whole module, from its import)."""
    if in_ci():
        pytest.fail(f"CI=true and {what} cannot run: {reason}")
    message = f"{what.upper()} SKIPPED: {reason}"
    warnings.warn(message, stacklevel=3)
    print(f"\n*** {message} ***", file=sys.stderr)
    pytest.skip(message, allow_module_level=module)
