"""Errors that Lockstep raises on purpose.

Every error a user can cause (a bad file, a wrong option, a workspace of another version)
is a :class:`LockstepError`; the CLI prints its message on one line and exits non-zero,
without a traceback unless ``--debug`` is given.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LockstepError",
    "UsageError",
    "WorkspaceError",
    "SchemaVersionError",
    "RowError",
    "BadInputError",
    "Interrupted",
    "DiskFullError",
]


class LockstepError(Exception):
    """Base class of all errors a user can cause; the message says what to do."""


class UsageError(LockstepError):
    """An option or argument that cannot work (unknown format, missing platform, ...)."""


class WorkspaceError(LockstepError):
    """The workspace directory is missing, damaged or not a Lockstep workspace."""


class SchemaVersionError(WorkspaceError):
    """The workspace was written by a Lockstep with another schema version."""


class DiskFullError(WorkspaceError):
    """The disk filled up while writing; what was being written did not land."""


class Interrupted(LockstepError, KeyboardInterrupt):
    """Ctrl-C (or DuckDB's query interrupt) stopped a step; the message says what was kept.

    Also a :class:`KeyboardInterrupt`, so code that stops on Ctrl-C still stops on it.
    """


@dataclass(frozen=True)
class RowError:
    """One bad input row: where it is and why it was refused."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


class BadInputError(LockstepError):
    """A file was refused whole; ``errors`` lists the first bad rows (``file:line: reason``).

    ``others``: how many other files the same ingest call held; they were not loaded either
    (one call is committed whole or not at all).
    """

    def __init__(self, file: str, errors: list[RowError], total: int | None = None,
                 hint: str = "", *, others: int = 0) -> None:
        self.file = file
        self.errors = errors
        self.total = total if total is not None else len(errors)
        self.hint = hint
        self.others = others
        first = str(errors[0]) if errors else file
        more = f" (and {self.total - 1} more bad rows)" if self.total > 1 else ""
        scope = ("nothing from this file was loaded" if not others else
                 f"nothing from this file or the {others} other file(s) of this ingest "
                 "was loaded")
        super().__init__(f"{first}{more}; {scope}{hint}")
