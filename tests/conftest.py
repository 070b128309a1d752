"""Fixtures shared across the suite: a running fake SMSC and a running fake CMPP ISMG; and
strict state moves in the engine (SMSENGINE_STRICT).

Each is the default configuration on a free port on 127.0.0.1, started before the test and
stopped after it the way ``running()`` and ``ismg_running()`` in ``tests/_support`` stop them
(clients still bound that never answer the unbind are waited for 0.05 s). A test that needs
another configuration uses those context managers directly.
"""

from __future__ import annotations

import os

# An illegal state move in the engine's tracker raises (it is counted and logged otherwise).
# Set before smsengine is imported, and inherited by the processes tests start.
os.environ["SMSENGINE_STRICT"] = "1"

from collections.abc import AsyncIterator

import pytest

from smsengine.fakesmsc import FakeISMG, FakeSMSC
from tests._support.cmpp_client import ismg_running
from tests._support.smpp_client import running


@pytest.fixture
async def smsc() -> AsyncIterator[FakeSMSC]:
    """A started FakeSMSC with ``Config()``: open mode, any system_id and password bind."""
    async with running() as smsc:
        yield smsc


@pytest.fixture
async def ismg() -> AsyncIterator[FakeISMG]:
    """A started FakeISMG speaking CMPP with the one account ``sp_account()``."""
    async with ismg_running() as ismg:
        yield ismg
