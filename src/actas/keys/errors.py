"""The key file's one error, apart so that every module of ``actas.keys`` can raise it."""

from __future__ import annotations


class KeyFileError(Exception):
    """The key file is missing, unreadable or malformed; the message names the path."""
