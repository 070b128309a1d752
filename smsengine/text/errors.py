"""Errors of the text layer: encoding, segmentation and reassembly.

Every error is a :class:`ValueError` (the text or the octets are wrong, not the state of a
connection) and carries ``retriable = False``: sending the same text again fails the same way.
Callers branch on the class and its attributes, never on the message text.

- :class:`UnencodableTextError` — *local*: a character the chosen encoding cannot represent;
  names the character, its position and the encoding.
- :class:`MessageTooLongError` — *local*: the text needs more parts than allowed (255 at most,
  the concatenation IE's one-octet counter), raised before anything is sent.
- :class:`TextDecodeError` — octets that do not decode in the stated encoding.
- :class:`UdhError` — *remote*: a user data header that cannot be parsed (3GPP TS 23.040
  9.2.3.24): a length that runs past the data, a concatenation IE of the wrong size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .constants import Encoding

__all__ = [
    "MessageTooLongError",
    "TextDecodeError",
    "TextError",
    "UdhError",
    "UnencodableTextError",
]


class TextError(ValueError):
    """Base class of every error the text layer raises."""

    retriable: ClassVar[bool] = False


class UnencodableTextError(TextError):
    """``text[position]`` (``character``) cannot be represented in ``encoding``."""

    def __init__(self, encoding: Encoding, character: str, position: int) -> None:
        super().__init__(
            f"{character!r} (U+{ord(character):04X}) at position {position} cannot be "
            f"encoded in {encoding.value}"
        )
        self.encoding = encoding
        self.character = character
        self.position = position


class MessageTooLongError(TextError):
    """The message needs ``parts_needed`` parts; at most ``max_parts`` are allowed.

    ``exact`` is False when the text was so far over the limit that only a lower bound was
    computed (the message then says "at least").
    """

    def __init__(self, parts_needed: int, max_parts: int, *, exact: bool = True) -> None:
        bound = "" if exact else "at least "
        super().__init__(
            f"message needs {bound}{parts_needed} parts; at most {max_parts} are allowed"
        )
        self.parts_needed = parts_needed
        self.max_parts = max_parts
        self.exact = exact


class TextDecodeError(TextError):
    """Octets at ``position`` do not decode in ``encoding``."""

    def __init__(self, encoding: Encoding, position: int, reason: str) -> None:
        super().__init__(f"cannot decode {encoding.value} at octet {position}: {reason}")
        self.encoding = encoding
        self.position = position


class UdhError(TextError):
    """A malformed user data header (3GPP TS 23.040 9.2.3.24); ``offset`` is where it breaks."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(message)
        self.offset = offset
