"""The errors the store raises, and masking of passwords in database URLs.

Everything that goes wrong talking to the database surfaces as :class:`StoreError`
(or its subclass :class:`StoreUnavailableError` for problems that may go away by
themselves, or :class:`StoreFileLostError` when a SQLite file was deleted or replaced
under the running process), with a one-line message that names the URL with its password masked and
says what to do, so the CLI can print it as it is and the controller can retry.
Invalid records are programming errors and raise ``ValueError`` when they are built.
"""

from __future__ import annotations

import re

_PASSWORD_IN_URL = re.compile(r"(?P<head>//[^/@:]*:)[^/@]*@")


class StoreError(Exception):
    """The metadata database could not be opened, migrated, read or written."""


class StoreUnavailableError(StoreError):
    """The database is unreachable, locked or went away: retrying later may succeed."""


class StoreFileLostError(StoreError):
    """The SQLite file this store opened was deleted or replaced: nothing more is written
    (it would go into a file no one will read again) until the process restarts."""


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (works on unparseable URLs too)."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***@", url)


def one_line(text: str, limit: int = 300) -> str:
    """A driver's multi-line error message squeezed onto one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
