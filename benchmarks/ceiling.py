"""The ceiling: what a raw asyncio protocol pair can push over 127.0.0.1 on this machine.

No protocol work at all: the client writes pre-encoded 87-octet submit_sm PDUs, keeping a window
of ``--window`` unanswered; the server (in its own process, like the fake SMSC in the other
benchmarks) counts whole 87-octet PDUs and writes one pre-encoded 18-octet submit_sm_resp for
each. The client counts responses by octets and tops the window up once per read. Every other
figure (``bench.py``, ``engine.py``, ``smsengine bench``) can then be stated as a fraction of what
Python's event loop can do on the box, in the same conditions.

A thin wrapper: the probe lives in :mod:`smsengine._ceiling`, so that the installed
``smsengine bench`` measures it in the same run (``--ceiling``; always for ``--scenario short``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smsengine._ceiling import main

if __name__ == "__main__":
    raise SystemExit(main())
