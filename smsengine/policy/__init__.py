"""Policy over the engine (layer 4, issue 19): templates and signatures, frequency caps and
quiet hours, as plain modules the library uses without the daemon (STYLE 6c).

- :mod:`.templates`: :class:`Template` (``${var}`` variables with limits, ``secret`` ones
  masked), :func:`render` (the carrier's text and a masked one; signature, opt-out suffix,
  ``max_parts``), :func:`preview` (encoding, parts, units per part);
- :mod:`.template_store`: versioned templates in memory or in the engine's SQLite file;
- :mod:`.caps`: :class:`FrequencyCaps` per destination, API key or source IP, exact sliding
  logs in memory or in the engine's SQLite file;
- :mod:`.quiet`: :class:`QuietHours`, when marketing is held until.

Time is always an argument; nothing here starts a task or reads a clock.
"""

from .caps import (
    DEFAULT_RULES,
    MAX_LIMIT,
    CapRefusal,
    CapRule,
    CounterStore,
    FrequencyCaps,
    MemoryCounterStore,
    SqliteCounterStore,
    check_all,
)
from .quiet import NEVER_HELD, QuietHours, QuietHoursError
from .template_store import (
    MemoryTemplateStore,
    SqliteTemplateStore,
    TemplateExistsError,
    TemplateNotFoundError,
    TemplateStore,
)
from .templates import (
    DEFAULT_OPTOUT_SUFFIX,
    MASK,
    Placement,
    Rendered,
    Renderer,
    Template,
    TemplateError,
    Variable,
    decorate,
    preview,
    render,
    template_variables,
)

__all__ = [
    "DEFAULT_OPTOUT_SUFFIX",
    "DEFAULT_RULES",
    "MASK",
    "MAX_LIMIT",
    "NEVER_HELD",
    "CapRefusal",
    "CapRule",
    "CounterStore",
    "FrequencyCaps",
    "MemoryCounterStore",
    "MemoryTemplateStore",
    "Placement",
    "QuietHours",
    "QuietHoursError",
    "Rendered",
    "Renderer",
    "SqliteCounterStore",
    "SqliteTemplateStore",
    "Template",
    "TemplateError",
    "TemplateExistsError",
    "TemplateNotFoundError",
    "TemplateStore",
    "Variable",
    "check_all",
    "decorate",
    "preview",
    "render",
    "template_variables",
]
