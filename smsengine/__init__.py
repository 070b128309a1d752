"""smsengine: an asyncio SMPP/CMPP protocol engine and throughput-optimised SMS sender.

Layers, lowest first (nothing lower imports anything higher):

1. ``smsengine.smpp`` (and later ``smsengine.cmpp``): sans-I/O wire codecs.
2. ``smsengine.text``: encodings, segmentation, reassembly.
3. sessions, 4. channels and the engine, 5. daemon, CLI, fake SMSC and load tool.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
