"""The engine (layer 4): channels, flow control, routing and priorities, receipts, MO."""

from .config import (
    ChannelConfig,
    EngineConfig,
    EngineConfigError,
    OptOutConfig,
    ReceiptConfig,
    RouteConfig,
    engine_config_from_dict,
    load_engine_config,
)
from .engine import Engine
from .mo import MoMessage
from .model import Message, MessageEvent, MessageHandle, MessageRefusedError, MessageState
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
    "Engine",
    "EngineConfig",
    "EngineConfigError",
    "MemoryCorrelationStore",
    "MemorySuppressionStore",
    "Message",
    "MessageEvent",
    "MessageHandle",
    "MessageRefusedError",
    "MessageState",
    "MoMessage",
    "OptOutConfig",
    "ReceiptConfig",
    "RouteConfig",
    "SuppressionStore",
    "engine_config_from_dict",
    "load_engine_config",
]
