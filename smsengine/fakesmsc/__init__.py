"""The bundled fake SMSC: a fast SMPP 3.4 server with receipts, MO traffic and fault injection,
and :class:`FakeISMG`, the same machinery speaking CMPP 2.0 / 3.0.

>>> async with FakeSMSC(Config(accounts=[Account("shop", "secret")])) as smsc:  # doctest: +SKIP
...     ...  # bind to 127.0.0.1:smsc.port; read smsc.ledger; smsc.stall(), smsc.restart() …
>>> cfg = Config(protocol="cmpp", accounts=[Account("900001", "888888")])
>>> async with FakeISMG(cfg) as ismg:  # doctest: +SKIP
...     ...  # CONNECT to 127.0.0.1:ismg.port as 900001; the same ledger, faults, inject_mo …
"""

from .config import (
    Account,
    CmppConfig,
    Config,
    ConfigError,
    Delay,
    FaultSchedule,
    ReceiptConfig,
    SmgpConfig,
    config_from_dict,
    load_config,
)
from .ismg import FakeISMG
from .ledger import Ledger, LedgerEntry
from .server import BindInfo, FakeSMSC, MoResult
from .smgw import FakeSMGW

__all__ = [
    "Account",
    "BindInfo",
    "CmppConfig",
    "Config",
    "ConfigError",
    "Delay",
    "FakeISMG",
    "FakeSMGW",
    "FakeSMSC",
    "FaultSchedule",
    "Ledger",
    "LedgerEntry",
    "MoResult",
    "ReceiptConfig",
    "SmgpConfig",
    "config_from_dict",
    "load_config",
]
