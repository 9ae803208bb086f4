"""The ``lockstep`` command: a thin face over the library (Typer + Rich).

Typer gives typed options and ``--help`` from the signatures, Rich the tables and progress
bars; every command only calls library functions, so a notebook can do the same.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lockstep.exceptions import BadInputError, LockstepError

__all__ = ["app", "main"]

app = typer.Typer(
    name="lockstep",
    help="Find coordinated inauthentic behaviour in social-media activity.\n\n"
         "Data lives in a workspace directory (--workspace, $LOCKSTEP_WORKSPACE, default "
         "./lockstep-workspace). Start with `lockstep demo`, or `lockstep ingest FILES`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode="rich")
out = Console()
err = Console(stderr=True)
_state: dict[str, object] = {"debug": False, "workspace": None}


@app.callback()
def _global(
    workspace: Annotated[Optional[Path], typer.Option(
        "--workspace", "-w", envvar="LOCKSTEP_WORKSPACE",
        help="Workspace directory (default ./lockstep-workspace).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["workspace"] = workspace
    _state["debug"] = debug


def _workspace(create: bool = True):  # type: ignore[no-untyped-def]
    from lockstep.workspace import Workspace

    return Workspace.open(_state["workspace"], create=create)  # type: ignore[arg-type]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to read.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Input format, or auto to detect it "
                                     "from the file name or header.")] = "auto",
    platform: Annotated[Optional[str], typer.Option(
        help="Platform of rows that name none (facebook, instagram, x, telegram, ...).")] = None,
    skip_bad_rows: Annotated[bool, typer.Option(
        "--skip-bad-rows", help="Load the good rows and write the bad ones to a rejects file "
        "instead of refusing the file.")] = False,
) -> None:
    """Read files into the workspace. Each file loads whole or not at all; rows already
    stored (same platform and id) are not added twice.

    Formats: generic, coortweet, x-archive, twarc2, crowdtangle, telegram, bluesky.
    """
    from lockstep.exceptions import UsageError
    from lockstep.ingestion import ingest as run_ingest
    from lockstep.ingestion import write_report
    from lockstep.readers.registry import get_reader

    for p in paths:  # check before the workspace is created, so a typo leaves nothing behind
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
    if fmt != "auto":
        get_reader(fmt)
    ws = _workspace()
    with _progress() as prog:
        task = prog.add_task("ingest", total=None)

        def cb(msg: str, done: int, total: int) -> None:
            prog.update(task, description=msg, completed=done, total=total)

        report = run_ingest(ws, paths, fmt=fmt, platform=platform, skip_bad_rows=skip_bad_rows,
                            progress=cb)
    write_report(ws, report)
    table = Table(title=f"ingest {report.ingest_id}")
    for col in ("file", "table", "format", "status", "read", "added", "duplicates", "rejected"):
        table.add_column(col, justify="right" if col in {"read", "added", "duplicates", "rejected"} else "left")
    for f in report.files:
        table.add_row(Path(f.source).name, f.table, f.format, f.status, f"{f.rows_read:,}",
                      f"{f.rows_added:,}", f"{f.duplicates:,}", f"{f.rejected:,}")
    out.print(table)
    for f in report.files:
        if f.rejects_file:
            out.print(f"[yellow]{f.rejected:,} bad rows of {Path(f.source).name} written to "
                      f"{f.rejects_file}[/yellow]")


@app.command()
def stats(
    top: Annotated[int, typer.Option(help="How many top objects of each type to show.")] = 5,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts per platform, table and action, the time range, and the top objects."""
    from lockstep.stats import workspace_stats

    st = workspace_stats(_workspace(create=False), top=top)
    if json_out:
        import json

        out.print_json(json.dumps(st.to_dict(), default=str))
        return
    print_stats(st)


def print_stats(st) -> None:  # type: ignore[no-untyped-def]
    """Render :class:`~lockstep.stats.WorkspaceStats` as tables."""
    t = Table(title="rows per table and platform")
    platforms = sorted({p for rows in st.tables.values() for p in rows})
    t.add_column("table")
    for p in platforms:
        t.add_column(p, justify="right")
    for table, rows in st.tables.items():
        t.add_row(table, *(f"{rows.get(p, 0):,}" for p in platforms))
    out.print(t)
    t = Table(title="events by platform")
    for c in ("platform", "accounts acting", "first", "last", "actions"):
        t.add_column(c)
    for p, n in st.accounts_acting.items():
        lo, hi = st.time_range[p]
        acts = ", ".join(f"{a} {k:,}" for a, k in st.actions.get(p, {}).items())
        t.add_row(p, f"{n:,}", str(lo)[:19], str(hi)[:19], acts)
    out.print(t)
    t = Table(title="top objects")
    for c in ("type", "object", "events"):
        t.add_column(c, justify="right" if c == "events" else "left", overflow="fold")
    for otype, items in st.top_objects.items():
        for oid, n in items:
            t.add_row(otype, oid, f"{n:,}")
    out.print(t)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write (must not exist or be empty).")],
    scale: Annotated[str, typer.Option(help="small (~200k events), medium (~2M) or large (~10M).")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same world.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Write a synthetic world with ground truth (generic format v1 plus a truth table)."""
    summary = _simulate(out_dir, scale, seed, fmt)
    out.print(f"wrote {out_dir} in {summary.elapsed_s:.0f} s: {summary.events:,} events, "
              f"{summary.accounts:,} accounts, {summary.sessions:,} sessions, "
              f"{summary.roles:,} roles, {summary.truth_rows:,} truth rows")
    out.print("planted networks: " + ", ".join(
        f"{n} {k}" for k, n in sorted(summary.networks_by_kind.items())))


def _simulate(out_dir: Path, scale: str, seed: int, fmt: str):  # type: ignore[no-untyped-def]
    from lockstep.exceptions import UsageError
    from lockstep.simulate import simulate as run_simulate

    try:
        with _progress() as prog:
            task = prog.add_task("simulate", total=100)

            def cb(stage: str, frac: float) -> None:
                prog.update(task, description=f"simulate: {stage}", completed=round(frac * 100))

            return run_simulate(out_dir, scale=scale, seed=seed, fmt=fmt, progress=cb)
    except ValueError as exc:  # the simulator's refusals (scale, format, non-empty dir)
        raise UsageError(str(exc)) from None


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where the demo world and workspace go; "
                                            "replaced if it holds an earlier demo.")] = Path("lockstep-demo"),
    seed: Annotated[int, typer.Option(help="Random seed of the simulated world.")] = 7,
) -> None:
    """Simulate a small world, ingest it into a fresh workspace and show what is there."""
    from lockstep.exceptions import UsageError
    from lockstep.ingestion import ingest as run_ingest
    from lockstep.stats import workspace_stats
    from lockstep.workspace import Workspace

    marker = directory / ".lockstep-demo"
    if directory.exists():
        if not marker.exists():
            raise UsageError(f"{directory} exists and is not a Lockstep demo; choose --dir")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    marker.write_text("created by `lockstep demo`; safe to delete\n")
    t0 = time.perf_counter()
    out.rule("1. simulate a small world with planted networks")
    summary = _simulate(directory / "world", "small", seed, "parquet")
    out.print(f"world written to {directory / 'world'}: {summary.events:,} events, "
              f"{summary.accounts:,} accounts")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary.networks_by_kind.items()))
    tiers = ", ".join(f"tier {t}: {n}" for t, n in sorted(summary.cib_by_tier.items()))
    out.print(f"planted networks (ground truth, never read by detection): {kinds}; CIB by "
              f"sophistication {tiers}")
    out.rule("2. ingest it into a fresh workspace")
    ws = Workspace.open(directory / "workspace")
    with _progress() as prog:
        task = prog.add_task("ingest", total=None)
        report = run_ingest(ws, [directory / "world"], fmt="generic",
                            progress=lambda m, d, t: prog.update(task, description=m, completed=d, total=t))
    for f in report.files:
        out.print(f"  {Path(f.source).name}: {f.rows_added:,} rows added ({f.seconds:.1f} s)")
    out.rule("3. what is in the workspace")
    print_stats(workspace_stats(ws))
    out.print(f"\nDone in {time.perf_counter() - t0:.0f} s. Workspace: {ws.path} "
              f"(try: lockstep --workspace {ws.path} stats)")
    out.print("Detection, networks and verdicts come in later releases (see the issues).")


def main() -> None:
    """Entry point: run the app; user errors become one line on stderr and exit code 1."""
    debug = "--debug" in sys.argv or os.environ.get("LOCKSTEP_DEBUG") == "1"
    try:
        app()
    except BadInputError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        for e in exc.errors[1:]:
            err.print(f"  {e}", soft_wrap=True, highlight=False, markup=False)
        sys.exit(1)
    except LockstepError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted; the workspace is unchanged by the unfinished step")
        sys.exit(130)
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        sys.exit(1)
