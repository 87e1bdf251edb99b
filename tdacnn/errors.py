"""Errors a user can act on.  Their message is one clear sentence, shown as is
by the CLI (stderr, exit 2) and by the app (next to the control concerned).

A sentence quotes at most a short prefix of a bad value (:func:`quote`), and a
message is never longer than :data:`MAX_MESSAGE_CHARS`: a 90 MB request value
never comes back in an error."""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["UserError", "quote", "QUOTE_CHARS", "MAX_MESSAGE_CHARS"]

#: Longest part of a value that an error message quotes.
QUOTE_CHARS = 60
#: Longest error message (a backstop for values formatted without :func:`quote`).
MAX_MESSAGE_CHARS = 1000


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, ``…`` marking the cut.

    Examples
    --------
    >>> quote("abc")
    "'abc'"
    >>> quote("x" * 1000, 5)
    "'xxxxx…'"
    """
    if isinstance(value, (str, bytes)):
        text = repr(value[:limit])
        return text[:-1] + "…" + text[-1] if len(value) > limit else text
    short = reprlib.Repr()  # walks at most a few items of a huge list or dict
    short.maxstring = short.maxother = limit
    short.maxlist = short.maxdict = short.maxtuple = short.maxset = 6
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class UserError(ValueError):
    """Bad input from the user: a parameter out of range, a file that cannot be used."""

    def __init__(self, message: Any = "", *args: Any) -> None:
        if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "…"
        super().__init__(message, *args)
