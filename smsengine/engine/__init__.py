"""The engine (layer 4): channels, flow control, routing and priorities, the message tracker,
receipts, statuses, MO."""

from .config import (
    ChannelConfig,
    EngineConfig,
    EngineConfigError,
    OptOutConfig,
    ReceiptConfig,
    RouteConfig,
    StatusConfig,
    engine_config_from_dict,
    load_engine_config,
)
from .engine import Engine
from .mo import MoMessage
from .model import (
    DeliveryFailure,
    Message,
    MessageEvent,
    MessageExpiredError,
    MessageHandle,
    MessageRefusedError,
    MessageState,
)
from .prefixes import PrefixTable, PrefixTableError, load_prefix_table
from .status import ErrorInfo, MessageStatus, PartStatus
from .stores import (
    CorrelationRecord,
    CorrelationStore,
    MemoryCorrelationStore,
    MemorySuppressionStore,
    SuppressionStore,
)

__all__ = [
    "ChannelConfig",
    "CorrelationRecord",
    "CorrelationStore",
    "DeliveryFailure",
    "Engine",
    "EngineConfig",
    "EngineConfigError",
    "ErrorInfo",
    "MemoryCorrelationStore",
    "MemorySuppressionStore",
    "Message",
    "MessageEvent",
    "MessageExpiredError",
    "MessageHandle",
    "MessageRefusedError",
    "MessageState",
    "MessageStatus",
    "MoMessage",
    "OptOutConfig",
    "PartStatus",
    "PrefixTable",
    "PrefixTableError",
    "ReceiptConfig",
    "RouteConfig",
    "StatusConfig",
    "SuppressionStore",
    "engine_config_from_dict",
    "load_engine_config",
    "load_prefix_table",
]
