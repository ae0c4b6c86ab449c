"""Errors raised by the securities master: one type, always naming the file and the record."""

from __future__ import annotations


class SecmasterError(Exception):
    """Any securities-master failure the user can act on (bad input, unknown symbol, bad schema)."""


class IngestError(SecmasterError):
    """Bad input during an ingest; nothing of ``source`` was committed.

    ``source`` names the file (or "DataFrame"), ``where`` the record or line when known.
    """

    def __init__(self, source: str, message: str, where: str | None = None) -> None:
        self.source = source
        self.where = where
        self.reason = message
        loc = f" ({where})" if where else ""
        super().__init__(f"{source}{loc}: {message}; nothing from this input was committed")
