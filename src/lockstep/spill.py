"""Bounded disk for work that spills: a budget checked before spilling, and no files left.

Pairs that do not fit in memory wait on disk (co-action and text sweeps, DuckDB's own
spilling). Their number is counted exactly before any is built, so a run that would need more
disk than its budget is refused *before* it writes anything, with the number of pairs that
its largest object implies; one object shared by 200k accounts within a second implies 2e10
pairs, 160 GB of spill, and used to fill the disk for ten minutes.

- Budget: ``disk_mb`` where a caller gives one (``--disk-mb``), else ``LOCKSTEP_DISK_MB``,
  else :data:`DEFAULT_DISK_MB` or half the free space of the temporary directory, whichever
  is smaller (a default that cannot fill the disk).
- Names: every spill directory is ``<tmp>/lockstep-<kind>-<pid>-<n>``; DuckDB's is
  ``<tmp>/lockstep-duckdb-<pid>``. They are removed in ``finally`` blocks on any exit Python
  sees (errors, Ctrl-C, SIGTERM through the CLI); those of a process that died without
  cleaning (SIGKILL, power loss) are removed by :func:`clean_stale` at the next start.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from lockstep.exceptions import UsageError

__all__ = ["DEFAULT_DISK_MB", "DiskBudgetError", "disk_budget_bytes", "check_spill",
           "spill_dir", "clean_stale", "duckdb_temp_dir", "process_alive",
           "configure_duckdb", "explain"]

#: Most spill per run unless told otherwise (MiB), also capped at half the free space.
DEFAULT_DISK_MB = 20 * 1024
ENV_VAR = "LOCKSTEP_DISK_MB"
_PATTERN = re.compile(r"^(?:lockstep-[a-z]+|coaction|text)-(\d+)(?:-.*)?$")


class DiskBudgetError(UsageError):
    """A run would spill more to disk than its budget allows; nothing was written."""


def _free_bytes(where: Path) -> int:
    """Free bytes on the file system of ``where`` or of its nearest existing parent (a spill
    directory is created only when the first pair spills)."""
    for p in (where, *where.absolute().parents):
        try:
            return shutil.disk_usage(p).free
        except OSError:
            continue
    return 0


def disk_budget_bytes(disk_mb: int | None = None, where: str | Path | None = None) -> int:
    """The spill budget in bytes (see the module docstring for the rule)."""
    if disk_mb is None:
        env = os.environ.get(ENV_VAR)
        if env:
            try:
                disk_mb = int(env)
            except ValueError:
                raise UsageError(f"{ENV_VAR}={env!r} is not a whole number of MiB") from None
    if disk_mb is not None:
        if disk_mb < 0:
            raise UsageError(f"the disk budget must be 0 MiB or more, not {disk_mb}")
        return int(disk_mb) << 20
    free = _free_bytes(Path(where or tempfile.gettempdir()))
    return min(DEFAULT_DISK_MB << 20, free // 2)


def check_spill(need_bytes: int, budget_bytes: int, *, what: str, advice: str = "") -> None:
    """Raise :class:`DiskBudgetError` when ``need_bytes`` exceed ``budget_bytes``.

    ``what`` says what needs the space (``"co-repost: 2.0e10 candidate pairs; object 'x'
    alone implies ..."``); ``advice`` what the user can do.
    """
    if need_bytes <= budget_bytes:
        return
    raise DiskBudgetError(
        f"{what}: they would need {_size(need_bytes)} of disk to spill, over the budget of "
        f"{_size(budget_bytes)} (--disk-mb or ${ENV_VAR}); nothing was written"
        + (f"; {advice}" if advice else ""))


def _size(n: int) -> str:
    for unit, k in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= k:
            return f"{n / k:,.1f} {unit}"
    return f"{n} bytes"


def duckdb_temp_dir() -> Path:
    """This process's DuckDB spill directory (removed by :func:`clean_stale` once dead)."""
    return Path(tempfile.gettempdir()) / f"lockstep-duckdb-{os.getpid()}"


def configure_duckdb(con: object, temp_dir: str | Path | None = None, *,
                     disk_mb: int | None = None) -> Path:
    """Point DuckDB's spilling at ``temp_dir`` (default :func:`duckdb_temp_dir`) and bound it
    by the disk budget (``max_temp_directory_size``; DuckDB's own default is all the free
    space). Returns the directory. DuckDB then fails with an ``OutOfMemoryException`` that
    names the setting; :func:`explain` turns it into one line that says what to do."""
    from lockstep.sql import literal

    tmp = Path(temp_dir) if temp_dir is not None else duckdb_temp_dir()
    budget = max(1, disk_budget_bytes(disk_mb, tmp) >> 20)
    con.execute(f"SET temp_directory = {literal(tmp)}")  # type: ignore[attr-defined]
    con.execute(f"SET max_temp_directory_size = {literal(f'{budget}MiB')}")  # type: ignore[attr-defined]
    return tmp


def explain(exc: BaseException) -> str | None:
    """One line for DuckDB running out of memory or of its disk budget; None otherwise."""
    msg = str(exc)
    if type(exc).__name__ != "OutOfMemoryException":
        return None
    if "max_temp_directory_size" in msg:
        return ("the work needs more disk to spill than its budget allows (--disk-mb or "
                f"${ENV_VAR}); raise the budget, or free disk space; nothing was written")
    return ("out of memory (the DuckDB memory limit, $LOCKSTEP_MEMORY_LIMIT, was reached and "
            "spilling did not help); raise the limit or use a machine with more memory; "
            "nothing was written")


def spill_dir(kind: str, root: str | Path | None = None) -> Path:
    """A new (not yet created) spill directory name for ``kind`` under ``root`` (default:
    the temporary directory); stale ones of dead processes are removed first."""
    clean_stale()
    base = Path(root) if root else Path(tempfile.gettempdir())
    return base / f"lockstep-{kind}-{os.getpid()}-{time.monotonic_ns()}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (this one, or another user's, counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale(root: str | Path | None = None) -> list[Path]:
    """Remove the spill directories under ``root`` (default: the temporary directory) whose
    process is gone; return what was removed. Another user's are left alone."""
    base = Path(root) if root else Path(tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for d in entries:
        m = _PATTERN.match(d.name)
        if not m or not d.is_dir() or process_alive(int(m.group(1))):
            continue
        try:
            if d.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed
