"""The bundled fake SMSC: a fast SMPP 3.4 server with receipts, MO traffic and fault injection.

>>> async with FakeSMSC(Config(accounts=[Account("shop", "secret")])) as smsc:  # doctest: +SKIP
...     ...  # bind to 127.0.0.1:smsc.port; read smsc.ledger; smsc.stall(), smsc.restart() …
"""

from .config import (
    Account,
    Config,
    ConfigError,
    Delay,
    FaultSchedule,
    ReceiptConfig,
    config_from_dict,
    load_config,
)
from .ledger import Ledger, LedgerEntry
from .server import BindInfo, FakeSMSC, MoResult

__all__ = [
    "Account",
    "BindInfo",
    "Config",
    "ConfigError",
    "Delay",
    "FakeSMSC",
    "FaultSchedule",
    "Ledger",
    "LedgerEntry",
    "MoResult",
    "ReceiptConfig",
    "config_from_dict",
    "load_config",
]
