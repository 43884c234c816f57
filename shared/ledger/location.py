"""Where the ledger lives: a SQLite file (the embedded default) or a Postgres URL (shared).

A Postgres URL carries a password; LedgerURL keeps it out of repr, str and logs (only
`secret()` gives the whole URL, to the driver). A URL of any other scheme is a LedgerError
naming the scheme, never a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
URL_ENV = "OPT_DATA_LEDGER_URL"  # overrides [ledger] url, so a secret can stay out of the TOML


class LedgerError(RuntimeError):
    """The ledger cannot be reached or used; the message is one line without credentials."""


@dataclass(frozen=True)
class LedgerURL:
    """A Postgres connection URL whose password never appears in repr/str."""

    _url: str = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self._url)
        if parts.scheme not in POSTGRES_SCHEMES:
            raise LedgerError(
                f"unsupported ledger url scheme {parts.scheme!r}: expected postgresql:// "
                "(or no url for the SQLite ledger under state/)"
            )
        if not parts.hostname and "host=" not in parts.query:
            raise LedgerError(f"ledger url {self.redacted()} names no host")

    def secret(self) -> str:
        return self._url

    def redacted(self) -> str:
        parts = urlsplit(self._url)
        if parts.password is None:
            return self._url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"LedgerURL({self.redacted()!r})"


LedgerLocation = Path | LedgerURL


def describe(location: LedgerLocation) -> str:
    """A printable name of the ledger (no password)."""
    return str(location)
