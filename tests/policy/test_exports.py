"""The public surface of smsengine.policy, and what it may import (layer 4, beside the engine:
the text layer and the engine's SQLite stores, nothing higher)."""

from __future__ import annotations

import subprocess
import sys

import smsengine.policy as policy


def test_all_is_exactly_the_public_names() -> None:
    modules = {"caps", "quiet", "template_store", "templates"}
    public = {n for n in dir(policy) if not n.startswith("_")} - modules
    assert set(policy.__all__) == public
    assert len(policy.__all__) == len(set(policy.__all__))


def test_errors_are_value_errors_that_do_not_retry() -> None:
    for cls in (policy.TemplateError, policy.QuietHoursError, policy.TemplateExistsError):
        assert issubclass(cls, ValueError) and cls.retriable is False
    assert issubclass(policy.TemplateNotFoundError, KeyError)


def test_importing_policy_loads_neither_the_daemon_nor_aiohttp() -> None:
    code = ("import sys, smsengine.policy; "
            "print(any(m.startswith(('smsengine.daemon', 'aiohttp')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
