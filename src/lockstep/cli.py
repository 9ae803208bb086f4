"""The ``lockstep`` command: a thin face over the library (Typer + Rich).

Typer gives typed options and ``--help`` from the signatures, Rich the tables and progress
bars; every command only calls library functions, so a notebook can do the same.

Design choices, one line each:

- Every data value shown (ids, handles, texts, paths, error messages) goes through
  :mod:`lockstep.terminal` (plain text, never markup; controls made visible; long values
  cut), because data that a terminal acts on could hide links, recolour or crash the view.
- Suggested commands quote paths with :func:`shlex.quote`, so pasting them runs nothing.
- Emoji codes are off (``:smile:`` in a handle is text) for the same reason as markup.
- Ctrl-C and DuckDB's ``InterruptException`` end as one line and exit 130 through a wrapper
  on every command, because Typer would otherwise turn Ctrl-C into a silent exit and let
  DuckDB's exception through as a traceback.
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lockstep.exceptions import BadInputError, LockstepError
from lockstep.terminal import line, show, visible

__all__ = ["app", "main"]

app = typer.Typer(
    name="lockstep",
    help="Find coordinated inauthentic behaviour in social-media activity.\n\n"
         "Data lives in a workspace directory (--workspace, $LOCKSTEP_WORKSPACE, default "
         "./lockstep-workspace). Start with `lockstep demo`, or `lockstep ingest FILES`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode="rich")
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)
_state: dict[str, object] = {"debug": False, "workspace": None}

def _command(*words: object) -> str:
    """A command line to paste into a shell: every word quoted as the shell needs."""
    return " ".join(shlex.quote(str(w)) for w in words)


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past Typer (which would exit 130 in silence)."""


def _interrupt(exc: BaseException | None) -> BaseException | None:
    """The Ctrl-C (``KeyboardInterrupt``) or DuckDB ``InterruptException`` behind ``exc``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt):
            return exc
        duckdb = sys.modules.get("duckdb")
        if duckdb is not None and isinstance(exc, getattr(duckdb, "InterruptException", ())):
            return exc
        # DuckDB raises a plain RuntimeError when Ctrl-C stops a query inside a fetch
        if isinstance(exc, RuntimeError) and str(exc).startswith("Query interrupted"):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _interruptible(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            found = _interrupt(exc)
            if found is None or isinstance(exc, (SystemExit, typer.Exit)):
                raise
            from lockstep.exceptions import Interrupted

            msg = str(exc) if isinstance(exc, Interrupted) and str(exc) else ""
            raise _Interrupted(msg) from exc
    return wrapper


@app.callback()
def _global(
    workspace: Annotated[Optional[Path], typer.Option(
        "--workspace", "-w", envvar="LOCKSTEP_WORKSPACE",
        help="Workspace directory (default ./lockstep-workspace).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    disk_mb: Annotated[Optional[int], typer.Option(
        "--disk-mb", envvar="LOCKSTEP_DISK_MB", min=0,
        help="Most MiB of disk that work may spill to (pairs waiting on disk, DuckDB's "
             "temporary files); a run that would need more is refused before it writes "
             "anything. Default: 20 GiB or half the free space, whichever is smaller.")] = None,
) -> None:
    _state["workspace"] = workspace
    _state["debug"] = debug
    if disk_mb is not None:  # read by lockstep.spill wherever work spills
        os.environ["LOCKSTEP_DISK_MB"] = str(disk_mb)


def _workspace(create: bool = True):  # type: ignore[no-untyped-def]
    from lockstep.workspace import Workspace

    return Workspace.open(_state["workspace"], create=create)  # type: ignore[arg-type]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err,
                    transient=True, disable=not err.is_terminal)


def _bar(prog: Progress, task: Any) -> Callable[[str, int, int], None]:
    """A library progress callback: the step's message (it may name files) made visible."""
    def cb(msg: str, done: int, total: int) -> None:
        prog.update(task, description=visible(msg, 80), completed=done, total=total)
    return cb


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
    """Read files into the workspace. One call loads whole or not at all: if a file is
    refused, nothing of the call is loaded. Rows already stored (same platform and id) are
    not added twice. Other writers wait for the workspace lock ($LOCKSTEP_LOCK_TIMEOUT s).

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
        report = run_ingest(ws, paths, fmt=fmt, platform=platform, skip_bad_rows=skip_bad_rows,
                            progress=_bar(prog, task))
    write_report(ws, report)
    table = Table(title=line("ingest ", report.ingest_id))
    for col in ("file", "table", "format", "status", "read", "added", "duplicates", "rejected"):
        table.add_column(col, justify="right" if col in {"read", "added", "duplicates", "rejected"} else "left")
    for f in report.files:
        table.add_row(show(Path(f.source).name), show(f.table), show(f.format), show(f.status),
                      f"{f.rows_read:,}", f"{f.rows_added:,}", f"{f.duplicates:,}",
                      f"{f.rejected:,}")
    out.print(table)
    for f in report.files:
        for reason, (n, first) in f.skipped.items():
            out.print(line(f"{n:,} records of ", Path(f.source).name, " left out on purpose: ",
                           reason, f" (the first at line {first:,})"))
        if f.rejects_file:
            out.print(line((f"{f.rejected:,} bad rows of ", "yellow"),
                           (Path(f.source).name, "yellow"), (" written to ", "yellow"),
                           (f.rejects_file, "yellow")))


@app.command()
def upgrade() -> None:
    """Convert a workspace written by an older Lockstep to this one's schema, in place
    (rows, ingest log and saved detection runs are kept; safe to interrupt)."""
    from lockstep.upgrade import upgrade_workspace
    from lockstep.workspace import default_workspace_path

    path = _state["workspace"] or default_workspace_path()
    rep = upgrade_workspace(path)  # type: ignore[arg-type]
    if rep.from_version == rep.to_version:
        out.print(line(rep.path, f" is already at schema version {rep.to_version}; nothing to do"))
        return
    rows = ", ".join(f"{t} {n:,}" for t, n in rep.rows.items() if n)
    out.print(line("upgraded ", rep.path, f" from schema version {rep.from_version} to "
                   f"{rep.to_version}: {rows or 'no rows'}"))


@app.command()
def stats(
    top: Annotated[int, typer.Option(help="How many top objects of each type to show.")] = 5,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables "
                                           "(ASCII: other characters as \\u escapes).")] = False,
) -> None:
    """Counts per platform, table and action, the time range, and the top objects."""
    from lockstep.stats import workspace_stats

    st = workspace_stats(_workspace(create=False), top=top)
    if json_out:
        import json

        # ASCII with escapes: controls, bidi marks and lone surrogates reach no terminal
        out.print_json(json.dumps(st.to_dict(), default=str), ensure_ascii=True)
        return
    print_stats(st)


def print_stats(st) -> None:  # type: ignore[no-untyped-def]
    """Render :class:`~lockstep.stats.WorkspaceStats` as tables."""
    t = Table(title="rows per table and platform")
    platforms = sorted({p for rows in st.tables.values() for p in rows})
    t.add_column("table")
    for p in platforms:
        t.add_column(show(p), justify="right")
    for table, rows in st.tables.items():
        t.add_row(show(table), *(f"{rows.get(p, 0):,}" for p in platforms))
    out.print(t)
    t = Table(title="events by platform")
    for c in ("platform", "accounts acting", "first", "last", "actions"):
        t.add_column(c)
    for p, n in st.accounts_acting.items():
        lo, hi = st.time_range[p]
        acts = ", ".join(f"{a} {k:,}" for a, k in st.actions.get(p, {}).items())
        t.add_row(show(p), f"{n:,}", show(str(lo)[:19]), show(str(hi)[:19]), show(acts))
    out.print(t)
    t = Table(title="top objects")
    for c in ("type", "object", "events"):
        t.add_column(c, justify="right" if c == "events" else "left", overflow="fold")
    for otype, items in st.top_objects.items():
        for oid, n in items:
            t.add_row(show(otype), show(oid), f"{n:,}")
    out.print(t)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write (must not exist or be empty).")],
    scale: Annotated[str, typer.Option(help="small (~200k events), medium (~2M) or large (~10M).")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same world.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    population: Annotated[str, typer.Option(
        help="standard, or randomised: each seed draws its own population of ordinary behaviour "
             "that looks like coordination (written to population.json).")] = "standard",
) -> None:
    """Write a synthetic world with ground truth (generic format v1 plus a truth table)."""
    summary = _simulate(out_dir, scale, seed, fmt, population)
    out.print(line("wrote ", out_dir, f" in {summary.elapsed_s:.0f} s: {summary.events:,} events, "
                   f"{summary.accounts:,} accounts, {summary.sessions:,} sessions, "
                   f"{summary.roles:,} roles, {summary.truth_rows:,} truth rows"))
    out.print(line("planted networks: " + ", ".join(
        f"{n} {k}" for k, n in sorted(summary.networks_by_kind.items()))))


def _simulate(out_dir: Path, scale: str, seed: int, fmt: str,  # type: ignore[no-untyped-def]
              population: str = "standard"):
    from lockstep.exceptions import UsageError
    from lockstep.simulate import simulate as run_simulate

    try:
        with _progress() as prog:
            task = prog.add_task("simulate", total=100)

            def cb(stage: str, frac: float) -> None:
                prog.update(task, description=visible(f"simulate: {stage}", 80),
                            completed=round(frac * 100))

            return run_simulate(out_dir, scale=scale, seed=seed, fmt=fmt, progress=cb,
                                population=population)
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
    out.print(line("world written to ", directory / "world", f": {summary.events:,} events, "
                   f"{summary.accounts:,} accounts"))
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(summary.networks_by_kind.items()))
    tiers = ", ".join(f"tier {t}: {n}" for t, n in sorted(summary.cib_by_tier.items()))
    out.print(line(f"planted networks (ground truth, never read by detection): {kinds}; CIB by "
                   f"sophistication {tiers}"))
    out.rule("2. ingest it into a fresh workspace")
    ws = Workspace.open(directory / "workspace")
    with _progress() as prog:
        task = prog.add_task("ingest", total=None)
        report = run_ingest(ws, [directory / "world"], fmt="generic", progress=_bar(prog, task))
    for f in report.files:
        out.print(line("  ", Path(f.source).name,
                       f": {f.rows_added:,} rows added ({f.seconds:.1f} s)"))
    out.rule("3. what is in the workspace")
    print_stats(workspace_stats(ws))
    out.rule("4. coordinated networks: signals tested against chance, fused, Leiden, ranked, "
             "and judged on behaviour")
    from lockstep.detect import detect as run_detect

    with _progress() as prog:
        task = prog.add_task("detect", total=None)
        run = run_detect(ws, progress=_bar(prog, task))
    print_networks(run, 10)
    out.rule("5. the top networks: verdict, attribution, where they really run from")
    shown = 0
    for inv in run.assessment.inventory.to_pylist():
        if shown == 3:
            break
        if inv["verdict"] != "cib" and shown < 2:
            continue  # lead with the deceptive networks; spam and the rest are listed above
        shown += 1
        print_assessment(run.assessment, inv["network_id"], links=3)
        out.print(line("full evidence: ", _command("lockstep", "--workspace", ws.path,
                                                   "network", inv["network_id"])))
        out.print()
    out.rule("6. against the planted ground truth (detection never reads it)")
    _print_evaluations(ws, run, ws)
    out.print()
    out.print(line(f"Done in {time.perf_counter() - t0:.0f} s. Workspace: ", ws.path,
                   " (try: ", _command("lockstep", "--workspace", ws.path, "networks"), ")"))


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def detect(
    signals: Annotated[Optional[str], typer.Option(
        help="Comma-separated signals (default: all built-in ones that suit the data; "
             "`lockstep signals` lists them).")] = None,
    window: Annotated[Optional[float], typer.Option(help="Co-action window in seconds (inclusive); "
                                                    "0 = choose it from the data.")] = 1800.0,
    alpha: Annotated[float, typer.Option(help="False discovery rate over all pairs "
                                         "(Benjamini-Hochberg).")] = 0.01,
    min_weight: Annotated[int, typer.Option(help="Minimum co-actions for a pair to be tested "
                                            "(1: significance alone decides).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of community detection.")] = 0,
    min_size: Annotated[int, typer.Option(help="Smallest network, in accounts.")] = 3,
    top: Annotated[int, typer.Option(help="How many networks to list.")] = 15,
    corroborate: Annotated[bool, typer.Option(
        help="Keep the weak edges of shared-infrastructure groups that independent activity "
             "confirms (finds careful operations; see docs/detection.md).")] = True,
    amplified: Annotated[bool, typer.Option(
        help="Add to each network the pages whose re-shares and replies come mostly from "
             "it.")] = True,
) -> None:
    """Find coordinated networks: co-action signals, fused and clustered (Leiden), ranked and
    stored in the workspace with the parameters used."""
    from lockstep.detect import detect as run_detect

    ws = _workspace(create=False)
    with _progress() as prog:
        task = prog.add_task("detect", total=None)
        chosen = {"signals": _split(signals)} if signals else {}
        run = run_detect(ws, **chosen, window=window or None, alpha=alpha,
                         min_weight=min_weight, seed=seed, min_size=min_size,
                         corroborate=corroborate, amplified=amplified,
                         progress=_bar(prog, task))
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in run.params.get("timings", {}).items())
    out.print(line("run ", run.run_id, f": {run.n_networks} networks (", timings, ")"))
    from lockstep.detect import why_empty

    why = why_empty(run)
    if why:
        out.print(line(("no network found: ", "yellow"), why))
        return
    print_networks(run, top)


def print_networks(run, top: int, show_all: bool = False) -> None:  # type: ignore[no-untyped-def]
    """The ranked network table: with an assessment, the triage list (listed networks in
    triage order; the others only with ``show_all``)."""
    t = Table(title=line("networks, most serious first (run ", run.run_id, ")"))
    wide = out.width >= 110  # the activity dates only where they fit
    verdicts = {}
    rows = run.networks.to_pylist()
    held = 0
    if getattr(run, "assessment", None) is not None:
        verdicts = {r["network_id"]: r for r in run.assessment.inventory.to_pylist()}
        if all(v.get("triage_rank") is not None for v in verdicts.values()):
            rows.sort(key=lambda r: verdicts[r["network_id"]]["triage_rank"])
            if not show_all:
                listed = [r for r in rows if verdicts[r["network_id"]]["listed"]]
                held = len(rows) - len(listed)
                rows = listed
    narrow = bool(verdicts) and not wide  # a verdict column: platforms only where they fit
    cols = (["network", "score", "size"] + (["verdict"] if verdicts else [])
            + ([] if narrow else ["platforms"]) + ["signals"]
            + ([] if narrow else ["density"]) + (["first", "last"] if wide else []))
    for c in cols:
        t.add_column(c, justify="right" if c in {"score", "size", "density"} else "left",
                     no_wrap=c != "signals", overflow="fold" if c == "signals" else "ellipsis",
                     min_width=18 if c == "signals" else None)
    for row in rows[:top]:
        sig = " ".join(f"{s}:{sh:.0%}" for s, sh in zip(row["signals"], row["signal_share"]) if sh >= 0.05)
        v = verdicts.get(row["network_id"])
        cells = [row["network_id"], f"{row['score']:.1f}", str(row["size"])]
        if verdicts:
            cells.append(f"{v['verdict']} ({v['confidence']})" if v else "")
        if not narrow:
            cells.append(",".join(row["platforms"]))
        cells.append(sig)
        if not narrow:
            cells.append(f"{row['density']:.2f}")
        if wide:
            cells += [str(row["first_seen"])[:10], str(row["last_seen"])[:10]]
        t.add_row(*(show(c) for c in cells))
    out.print(t)
    if held and not getattr(run.assessment, "telemetry", True) and len(rows) == 0:
        out.print(f"{held} coordinated network(s), none listed: without telemetry (sessions, "
                  "roles) public data shows who acts together but rarely how they deceive, "
                  "so no verdict reaches cib; --all lists them for research")
    elif held:
        out.print(f"{held} network(s) held back: coordinated, but judged authentic or with at "
                  "most one kind of deception, below what a decision needs; --all lists them")


def _run(run_id: Optional[str]):  # type: ignore[no-untyped-def]
    from lockstep.exceptions import UsageError
    from lockstep.graph import load_run

    from lockstep.attribution.assess import load_assessment

    ws = _workspace(create=False)
    try:
        run = load_run(ws, run_id)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise UsageError(f"no detection run found ({exc}); run `lockstep detect` first") from None
    if run.run_id:
        run.assessment = load_assessment(ws, run.run_id)
    return ws, run


@app.command()
def signals() -> None:
    """List the signals `lockstep detect --signals` accepts, and which run by default."""
    from lockstep.detect import DEFAULT_SIGNALS
    from lockstep.detectors import DESCRIPTIONS, REGISTRY

    t = Table(title="signals (two accounts are tied when they ...)")
    for c in ("signal", "default", "two accounts ...", "detector"):
        t.add_column(c, overflow="fold")
    for name, (cls, _) in REGISTRY.items():
        t.add_row(show(name), "yes" if name in DEFAULT_SIGNALS else "",
                  show(DESCRIPTIONS.get(name, "")), show(cls.__name__))
    out.print(t)


@app.command()
def assess(
    run_id: Annotated[Optional[str], typer.Option("--run", help="Run id (default: the latest).")] = None,
    top: Annotated[int, typer.Option(help="How many networks to list.")] = 15,
) -> None:
    """(Re)assess a run's networks: operators, origin, verdicts and asset inventory.

    `lockstep detect` already does this; run it again after adding telemetry (sessions,
    roles) to the workspace."""
    from lockstep.attribution.assess import assess as run_assess
    from lockstep.attribution.assess import save_assessment

    ws, run = _run(run_id)
    with _progress() as prog:
        task = prog.add_task("assess", total=None)
        run.assessment = run_assess(ws, run, progress=_bar(prog, task))
    save_assessment(ws, run, run.assessment)
    print_networks(run, top)
    for reason in run.assessment.limitations:
        out.print(line(("cannot establish: ", "dim"), (reason, "dim")))


@app.command()
def networks(
    run_id: Annotated[Optional[str], typer.Option("--run", help="Run id (default: the latest).")] = None,
    top: Annotated[int, typer.Option(help="How many networks to list.")] = 50,
    show_all: Annotated[bool, typer.Option("--all", help="Also list the networks held back "
                                           "(authentic, or at most one kind of deception).")] = False,
) -> None:
    """List the networks of the latest (or a given) detection run, as a triage list: those
    whose evidence supports a decision (cib, spam, or two kinds of deception), most serious
    first; `--all` adds the others and says how many were held back."""
    _, run = _run(run_id)
    print_networks(run, top, show_all)


@app.command()
def network(
    network_id: Annotated[str, typer.Argument(help="Network id, e.g. N0001.")],
    run_id: Annotated[Optional[str], typer.Option("--run", help="Run id (default: the latest).")] = None,
    evidence: Annotated[int, typer.Option(help="Evidence pairs to show.")] = 10,
) -> None:
    """One network: members, per-signal evidence, top shared objects and a timeline."""
    import pyarrow.compute as pc

    from lockstep.exceptions import UsageError

    ws, run = _run(run_id)
    # compared in Python: an argument may hold lone surrogates (undecodable bytes), which
    # Arrow cannot take
    rows = [r for r in run.networks.to_pylist() if r["network_id"] == network_id]
    if not rows:
        raise UsageError(f"no network {network_id} in run {run.run_id}; see `lockstep networks`")
    n = rows[0]
    out.print(line((network_id, "bold"), f"  score {n['score']:.1f}  size {n['size']}  "
                   "platforms ", ", ".join(n["platforms"]),
                   f"  {str(n['first_seen'])[:16]} .. {str(n['last_seen'])[:16]}"))
    members = run.members.filter(pc.equal(run.members["network_id"], network_id)).to_pylist()
    role = {}
    if run.assessment is not None:
        role = {(r["platform"], r["account_id"]): r["role"]
                for r in run.assessment.accounts.to_pylist() if r["network_id"] == network_id}
    person = {(m["platform"], m["account_id"]): m.get("person_id") or "" for m in members}
    sizes: dict[str, int] = {}
    for pid in person.values():
        sizes[pid] = sizes.get(pid, 0) + 1
    t = Table(title="members (strongest ties first; a person's accounts together)")
    for c in ("platform", "account", "kind", "handle", "created", "degree", "strength", "role",
              "person"):
        t.add_column(c)
    strongest = {}
    for m in members:
        pid = person[(m["platform"], m["account_id"])]
        strongest[pid] = max(strongest.get(pid, 0.0), m["strength"] or 0.0)
    members.sort(key=lambda m: (-strongest[person[(m["platform"], m["account_id"])]],
                                person[(m["platform"], m["account_id"])], -(m["strength"] or 0)))
    for m in members[:40]:
        pid = person[(m["platform"], m["account_id"])]
        t.add_row(show(m["platform"]), show(m["account_id"]), show(m["kind"]),
                  show(m.get("handle")), show(str(m.get("created_at") or "")[:10]),
                  str(m["degree"]), f"{m['strength']:.2f}",
                  show(role.get((m["platform"], m["account_id"]), "")),
                  show(pid if sizes.get(pid, 0) > 1 else ""))
    out.print(t)
    why = (run.params.get("persons") or {}).get("reasons") or {}
    for key, reason in sorted(why.items()):
        p, _, a = key.partition(":")
        if (p, a) in person:
            out.print(line("  ", ("one person: ", "dim"), (reason, "dim")))
    edges = run.edges.filter(pc.equal(run.edges["network_id"], network_id))
    t = Table(title="evidence by signal")
    for c in ("signal", "pairs", "co-actions", "objects", "median Δt (s)"):
        t.add_column(c, justify="right" if c != "signal" else "left")
    by_sig: dict[str, list[dict]] = {}
    for e in edges.to_pylist():
        by_sig.setdefault(e["signal"], []).append(e)
    for sig, es in sorted(by_sig.items(), key=lambda kv: -len(kv[1])):
        deltas = sorted(e["median_delta_s"] for e in es if e["median_delta_s"] is not None)
        t.add_row(show(sig), str(len(es)), f"{sum(e['weight'] for e in es):,}",
                  f"{sum(e['support'] for e in es):,}",
                  f"{deltas[len(deltas) // 2]:.0f}" if deltas else "")
    out.print(t)
    strongest = sorted(edges.to_pylist(), key=lambda e: -e["weight"])[:evidence]
    t = Table(title="strongest links and the events behind them (event_a|event_b)")
    for c in ("account a", "account b", "signal", "co-actions", "events"):
        t.add_column(c, overflow="fold")
    for e in strongest:
        t.add_row(show(e["account_a"]), show(e["account_b"]), show(e["signal"]), str(e["weight"]),
                  show(", ".join(visible(x) for x in (e["evidence"] or [])[:3])))
    out.print(t)
    if run.assessment is not None:
        print_assessment(run.assessment, network_id)
    _objects_and_timeline(ws, members)


def print_assessment(a, network_id: str, links: int = 8) -> None:  # type: ignore[no-untyped-def]
    """Verdict, reasons, inventory, operators with their evidence, and location of a network."""
    import pyarrow.compute as pc

    inv = a.network(network_id)
    if inv is None:
        return
    colour = {"cib": "red", "spam": "yellow", "authentic": "green"}.get(inv["verdict"], "white")
    out.print(line((f"verdict: {inv['verdict']}", f"bold {colour}"),
                   f" ({inv['confidence']} confidence)"))
    for r in inv["reasons"][1:]:
        out.print(line("  - ", r))
    if inv.get("would_change"):
        out.print(line("  ", ("would change: ", "italic"), (inv["would_change"], "italic")))
    if inv.get("triage_rank") is not None:
        out.print(line(f"  triage: {'listed' if inv['listed'] else 'held back'}, rank "
                       f"{inv['triage_rank']}; core {inv['core_size']}, periphery "
                       f"{inv['periphery_size']} (one tie each: never labelled with the verdict)"))
    for r in inv["limitations"]:
        out.print(line("  ", ("cannot establish: ", "dim"), (r, "dim")))
    followers = ("followers unknown" if inv["followers_total"] is None
                 else f"{inv['followers_total']:,} followers")
    out.print(line(("assets", "bold"), ": ", inv["counts_text"], f"; {followers}; active "
                   f"{str(inv['first_activity'])[:10]} .. {str(inv['last_activity'])[:10]}"))
    fmt = lambda xs: ", ".join(f"{x['country']} {x['share']:.0%}" for x in xs[:4]) or "unknown"  # noqa: E731
    out.print(line(("origin", "bold"), ": ", fmt(inv["origin_countries"]),
                   f" ({inv['origin_confidence'] or 'no'} confidence); ",
                   ("presents as", "bold"), ": ", fmt(inv["target_countries"]),
                   *([("; location mismatch", "bold red")] if inv["location_mismatch"] else [])))
    for text in inv["attribution"]:
        out.print(line(("attribution", "bold"), ": ", text))
    ops = a.operators.filter(pc.equal(a.operators["network_id"], network_id)).to_pylist()
    if ops:
        exported = {(r["platform"], r["account_id"]) for r in a.accounts.to_pylist()
                    if r["network_id"] == network_id and r["role"] == "operator"}
        t = Table(title="operators and candidates (person accounts linked to its assets; "
                        "exported as operator only at high confidence with 2+ assets)")
        for c in ("account", "status", "confidence", "evidence", "assets", "employer"):
            t.add_column(c, overflow="fold")
        for o in ops[:15]:
            key = (o["platform"], o["account_id"])
            t.add_row(show(f"{o['platform']}:{o['account_id']}"),
                      "operator" if key in exported else "candidate", show(o["confidence"]),
                      show(", ".join(o["evidence_kinds"] or [])), str(o["n_assets"]),
                      show(o["employer"]))
        out.print(t)
        lk = a.links.filter(pc.equal(a.links["network_id"], network_id)).to_pylist()
        lk.sort(key=lambda x: (x["kind"] != "slip", -(x["weight"] or 0)))
        t = Table(title="operator evidence (strongest first)")
        for c in ("operator", "asset", "kind", "detail", "sessions", "when"):
            t.add_column(c, overflow="fold")
        for x in lk[:links]:
            t.add_row(show(x["account_id"]), show(x["asset_id"]), show(x["kind"]),
                      show(x["detail"]), str(x["n_sessions"]),
                      show(f"{str(x['first_ts'])[:16]} .. {str(x['last_ts'])[:16]}"))
        out.print(t)


def _objects_and_timeline(ws, members) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    con = ws.connect()
    con.register("m", pa.table({"platform": [m["platform"] for m in members],
                                "account_id": [m["account_id"] for m in members]}))
    top = con.execute("SELECT object_type, object_id, count(*) n, count(DISTINCT o.account_id) a FROM objects o "
                      "JOIN m USING (platform, account_id) GROUP BY 1, 2 HAVING a > 1 "
                      "ORDER BY a DESC, n DESC LIMIT 10").fetchall()
    t = Table(title="top shared objects")
    for c in ("type", "object", "events", "members"):
        t.add_column(c, overflow="fold")
    for otype, oid, n, a in top:
        t.add_row(show(otype), show(oid), f"{n:,}", f"{a:,}")
    out.print(t)
    days = con.execute("SELECT CAST(date_trunc('day', ts) AS DATE) d, count(*) FROM events e "
                       "JOIN m USING (platform, account_id) GROUP BY 1 ORDER BY 1").fetchall()
    if days:
        peak = max(n for _, n in days)
        out.print("[bold]timeline[/bold] (events per day)")
        for d, n in days:
            out.print(line(f"  {d}  {'█' * max(1, round(40 * n / peak))} {n:,}"))
    con.close()


_RAW_HELP = ("Write CSV cells exactly as stored. By default a text cell that a spreadsheet "
             "would run as a formula (it starts with = + - @, a tab or a carriage return) gets "
             "a ' in front (OWASP's rule; numbers are never changed; see docs/exports.md).")


@app.command()
def pairs(
    signal: Annotated[str, typer.Option(help="co-repost, co-link, co-reply, co-hashtag, co-image, "
                                        "co-domain, co-mention, co-venue or co-object.")] = "co-repost",
    window: Annotated[float, typer.Option(help="Window in seconds (inclusive); 0 = from the data.")] = 10,
    min_weight: Annotated[int, typer.Option(help="Minimum co-actions (event pairs).")] = 1,
    out_path: Annotated[Path, typer.Option("--out", help="File to write: CSV, or Parquet for a "
                                           ".parquet name.")] = Path("pairs.csv"),
    evidence: Annotated[bool, typer.Option("--evidence", help="Add up to 10 event pairs per "
                                           "pair.")] = False,
    memory_mb: Annotated[int, typer.Option(help="Working memory in MiB (pairs beyond it wait "
                                           "on disk).")] = 256,
    raw: Annotated[bool, typer.Option("--raw", help=_RAW_HELP)] = False,
) -> None:
    """Write the raw pair edges of one signal, streamed bucket by bucket, for comparison with
    other tools. In CSV, text cells that a spreadsheet would run as a formula get a ' in front
    unless --raw."""
    from lockstep.detectors import get_detector

    det = get_detector(signal, window=window or None, min_weight=min_weight)
    if hasattr(det, "write_pairs"):  # co-action signals: streamed, never the whole table
        st = det.write_pairs(_workspace(create=False), out_path, evidence=evidence,
                             memory_mb=memory_mb, raw=raw)
        n, window_s = st["edges"], st.get("window_s", window)
    else:
        from lockstep.pairs import pairs as run_pairs
        from lockstep.pairs import pairs_stats, write_pairs

        table = run_pairs(_workspace(create=False), signal=signal, window=window or None,
                          min_weight=min_weight)
        n = write_pairs(table, out_path, evidence=evidence, raw=raw)
        window_s = pairs_stats(table).get("stats", {}).get("window_s", window)
    out.print(line(f"{n:,} pairs written to ", out_path, f" (window {window_s} s)"))


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="What to export: networks (one row per account) "
                                        "or summary (one row per network).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, json, gexf or graphml (summary: "
                                     "csv or json).")] = "csv",
    out_path: Annotated[Path, typer.Option("--out", help="File to write.")] = Path("networks.csv"),
    run_id: Annotated[Optional[str], typer.Option("--run", help="Run id (default: the latest).")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also export the networks held back "
                                           "by triage (authentic, or at most one kind of "
                                           "deception).")] = False,
    raw: Annotated[bool, typer.Option("--raw", help=_RAW_HELP)] = False,
) -> None:
    """Export the listed networks of a run (the triage list; `--all` for every network): CSV
    (one row per account, with verdict, role (asset, periphery or operator) and confidence),
    JSON, GEXF (Gephi) or GraphML; or the per-network summary (verdict, origin and target
    countries, operators, asset counts) as CSV or JSON.

    Hostile data: CSV text cells that a spreadsheet would run as a formula get a ' in front
    (--raw writes them as stored); GEXF and GraphML write the characters XML 1.0 cannot
    carry, and CR, as _xHHHH_ (lockstep.graph.export.xml_decode reverses it); JSON is exact.
    See docs/exports.md."""
    from lockstep.attribution.assess import listed_run
    from lockstep.exceptions import UsageError
    from lockstep.graph import export_networks, export_summary

    if what not in ("networks", "summary"):
        raise UsageError(f"cannot export {what!r}; try: lockstep export networks --format gexf "
                         "or lockstep export summary")
    _, whole = _run(run_id)
    run = whole if show_all else listed_run(whole)
    if what == "summary":
        path = export_summary(run, fmt, out_path, raw=raw)
    else:
        path = export_networks(run, fmt, out_path, raw=raw)
    held = whole.n_networks - run.n_networks
    out.print(line("run ", run.run_id, f": {run.n_networks} networks written to ", path,
                   f" ({held} held back by triage; --all exports them)" if held else ""))


@app.command()
def evaluate(
    truth: Annotated[Optional[Path], typer.Option(help="Truth file (generic format); default: the "
                                                  "workspace's truth table.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run", help="Run id (default: the latest).")] = None,
) -> None:
    """Account-level precision, recall and F1 of a run against planted ground truth."""
    ws, run = _run(run_id)
    _print_evaluations(ws, run, truth if truth else ws)


def _print_evaluations(ws, run, truth_source) -> None:  # type: ignore[no-untyped-def]
    """Print a run's evaluation against the truth read from ``truth_source`` (a truth file or
    the workspace): the detected members, then, when the run was assessed, the networks as
    reported and the assessment itself."""
    from lockstep.evaluate import evaluate as run_evaluate
    from lockstep.evaluate import evaluate_assessment, read_truth

    con = ws.connect()
    n_acc = con.execute("SELECT count(*) FROM (SELECT DISTINCT platform, account_id FROM events)").fetchone()[0]
    con.close()
    truth = read_truth(truth_source)
    print_evaluation(run_evaluate(run.members, truth, all_accounts=n_acc))
    if run.assessment is not None:
        a = run.assessment
        print_reported(run_evaluate(a.accounts, truth, all_accounts=n_acc))
        print_assessment_evaluation(evaluate_assessment(run.members, a.accounts, a.inventory,
                                                        a.operators, truth))


def print_reported(rep) -> None:  # type: ignore[no-untyped-def]
    """One line: recall when the networks count their administered pages, groups and
    operators, as the assessment reports them."""
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    parts = ", ".join(f"{g.group} {fmt(g.recall)}" for g in (*rep.by_kind, *rep.by_tier))
    share = "" if rep.ordinary_share is None else f" ({rep.ordinary_share:.2%} of ordinary accounts)"
    out.print(line("networks as reported (members, the pages and groups they administer, "
                   f"operators): recall {fmt(rep.overall.recall)} (", parts,
                   f"); ordinary users {rep.ordinary_flagged:,}{share}"))


def print_assessment_evaluation(rep) -> None:  # type: ignore[no-untyped-def]
    """Verdicts, operators and origin against the truth."""
    fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
    t = Table(title="verdicts of the best-matching network, per planted kind")
    for c in ("planted kind", "networks", "verdict right", "accuracy"):
        t.add_column(c, justify="left" if c == "planted kind" else "right")
    for r in rep.verdicts:
        t.add_row(show(r["kind"]), str(r["networks"]), str(r["correct"]), fmt(r["accuracy"]))
    out.print(t)
    t = Table(title="the cib verdict, account level")
    for c in ("group", "planted", "labelled cib", "precision", "recall"):
        t.add_column(c, justify="left" if c == "group" else "right")
    for g in (rep.cib, *rep.cib_by_tier):
        t.add_row(show(g.group), f"{g.planted:,}", f"{g.flagged:,}", fmt(g.precision),
                  fmt(g.recall))
    out.print(t)
    share = rep.authentic_as_cib_share
    out.print(line(f"members of authentic communities labelled cib: {rep.authentic_as_cib:,} of "
                   f"{rep.authentic_total:,}" + (f" ({share:.2%})" if share is not None else "")
                   + f"; spam accounts labelled cib: {rep.spam_as_cib:,}"))
    o = rep.operators
    tiers = ", ".join(f"tier {k} {fmt(v['recall'])}" for k, v in o["by_tier"].items())
    out.print(line(f"operators: {o['correct']} of {o['found']} found are true operators "
                   f"(precision {fmt(o['precision'])}); {o['correct']} of {o['true']} true "
                   f"operators found (recall {fmt(o['recall'])}; ", tiers, ")"))
    g = rep.origin
    tiers = ", ".join(f"tier {k} {fmt(v['accuracy'])}" for k, v in g["by_tier"].items())
    out.print(line(f"origin country right for {g['correct']} of {g['networks']} CIB networks "
                   f"({fmt(g['accuracy'])}; ", tiers, ")"))


def print_evaluation(rep) -> None:  # type: ignore[no-untyped-def]
    """The evaluation table."""
    t = Table(title="accounts flagged vs planted")
    for c in ("group", "planted", "flagged", "precision", "recall", "F1"):
        t.add_column(c, justify="left" if c == "group" else "right")
    fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rep.table():
        t.add_row(show(r["group"]), f"{r['planted']:,}", f"{r['flagged']:,}",
                  fmt(r["precision"]), fmt(r["recall"]), fmt(r["f1"]))
    out.print(t)
    share = "" if rep.ordinary_share is None else f" ({rep.ordinary_share:.2%} of ordinary accounts)"
    out.print(line(f"members of authentic communities flagged: {rep.authentic_flagged:,}; "
                   f"ordinary users flagged: {rep.ordinary_flagged:,}{share}"))


# every command ends a Ctrl-C (or DuckDB's interrupt) as one line: see _interruptible
for _info in app.registered_commands:
    _info.callback = _interruptible(_info.callback)  # type: ignore[arg-type]


def _error(exc: object) -> None:
    err.print(line(("error:", "red"), " ", str(exc)), soft_wrap=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    """Entry point: run the app; user errors become one line on stderr and exit code 1,
    Ctrl-C one line and exit code 130."""
    debug = "--debug" in sys.argv or os.environ.get("LOCKSTEP_DEBUG") == "1"
    # SIGTERM (kill, a scheduler's stop) unwinds like Ctrl-C, so every cleanup runs: staging
    # and spill files removed, nothing half-written (SIGKILL is left to recovery)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except _Interrupted as exc:
        if debug:
            raise
        err.print(line(str(exc) or "interrupted; the workspace is unchanged by the unfinished "
                       "step"), soft_wrap=True)
        sys.exit(130)
    except BadInputError as exc:
        if debug:
            raise
        _error(exc)
        for e in exc.errors[1:]:
            err.print(line("  ", str(e)), soft_wrap=True)
        sys.exit(1)
    except LockstepError as exc:
        if debug:
            raise
        _error(exc)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted; the workspace is unchanged by the unfinished step")
        sys.exit(130)
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        _error(exc)
        sys.exit(1)
    except Exception as exc:
        from lockstep.spill import explain

        why = explain(exc)  # DuckDB out of memory or of its disk budget: one line
        if why is None or debug:
            raise
        _error(why)
        sys.exit(1)
