"""Bring a workspace written by an older Lockstep to the current schema, in place.

Schema 1 -> 2 (``lockstep upgrade``): tables move from ``<table>/platform=<p>/`` to
``<table>/ingest_id=<ingest>/`` (``platform`` becomes a column), events lose ``url_keys``, and
the ``hosts`` table gives way to ``url_map``, computed from the events' URLs (each URL mapped
in the first ingest that brought it). Rows, ingest log and saved detection runs are kept.

Crash safety is the ingest's: the new files are written beside the old ones, the manifest is
replaced in one step, and only then are the old files removed. A process killed before the
manifest is replaced leaves a schema-1 workspace (upgrade again); one killed after it leaves
old files that the next :meth:`Workspace.open` removes, as it removes any unlisted file.

The manifest is read again once the writers' lock is held: two upgrades started together
would otherwise both convert, the second from files the first already removed.
"""
from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from lockstep.exceptions import SchemaVersionError, WorkspaceError
from lockstep.schema import SCHEMA_VERSION, TABLE_COLUMNS
from lockstep.sql import literal, literal_list
from lockstep.urls import install_url_functions, url_map_table
from lockstep.workspace import MANIFEST, Workspace, write_guard

__all__ = ["upgrade_workspace", "UpgradeReport"]

_V1_TABLES = ("events", "accounts", "sessions", "roles", "truth")


@dataclass
class UpgradeReport:
    """What :func:`upgrade_workspace` did: versions and the rows now in each table."""

    path: str
    from_version: int
    to_version: int
    rows: dict[str, int] = field(default_factory=dict)


def upgrade_workspace(path: str | Path) -> UpgradeReport:
    """Upgrade the workspace at ``path`` to :data:`~lockstep.schema.SCHEMA_VERSION`.

    A workspace already at the current version is left as it is. Raises
    :class:`SchemaVersionError` for a version this Lockstep cannot upgrade (a newer one).
    """
    p = Path(path)
    mpath = p / MANIFEST
    if not mpath.exists():
        raise WorkspaceError(f"{p} is not a Lockstep workspace (no {MANIFEST})")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"{mpath}: cannot read the manifest ({exc})") from None
    version = manifest.get("schema_version")
    if version == SCHEMA_VERSION:
        ws = Workspace.open(p, create=False)
        return UpgradeReport(str(p), version, version, _counts(ws))
    if version != 1:
        raise SchemaVersionError(
            f"{p}: workspace schema version {version!r} cannot be upgraded by this Lockstep "
            f"(it reads version {SCHEMA_VERSION} and upgrades version 1)")
    ws = Workspace(p, manifest)
    with write_guard(p, "upgrading", "run `lockstep upgrade` again to finish"), ws.lock():
        # re-read under the lock: another upgrade may have finished meanwhile
        if ws.manifest.get("schema_version") == version:
            _convert(ws, version)
    ws = Workspace.open(p, create=False)  # removes the emptied platform= directories
    return UpgradeReport(str(p), version, SCHEMA_VERSION, _counts(ws))


def _convert(ws: Workspace, version: int) -> None:
    """Rewrite the tables, replace the manifest, remove the old files; under the lock."""
    p, manifest = ws.path, ws.manifest
    ws._remove_unlisted()  # what a killed upgrade left
    stage = p / ".staging" / f"upgrade-{uuid.uuid4().hex}"
    stage.mkdir(parents=True)
    try:
        new_files = _rewrite(ws, stage)
        old = [f for files in manifest["files"].values() for f in files]
        by_ingest: dict[str, dict[str, list[str]]] = {}
        for table, files in new_files.items():
            for f in files:
                ingest_id = f.split("/")[1].split("=", 1)[1]
                by_ingest.setdefault(ingest_id, {}).setdefault(table, []).append(f)
        # a record of the log stands for one source file (one table); the files of an
        # ingest's table (and its URLs, with its events) go to its first such record
        records: list[dict[str, object]] = []
        given: set[tuple[str, str]] = set()
        for r in manifest.get("ingests", []):
            tables = [r["table"]] + (["url_map"] if r["table"] == "events" else [])
            mine = {t: by_ingest.get(r["ingest_id"], {}).get(t, []) for t in tables
                    if (r["ingest_id"], t) not in given}
            given.update((r["ingest_id"], t) for t in tables)
            records.append({**r, "files": {t: f for t, f in mine.items() if f}})
        ws.manifest = {**manifest, "schema_version": SCHEMA_VERSION, "files": new_files,
                       "ingests": records,
                       "upgraded": manifest.get("upgraded", []) + [
                           {"from": version, "to": SCHEMA_VERSION, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}]}
        ws._write_manifest()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for f in old:
        (p / f).unlink(missing_ok=True)
    shutil.rmtree(p / "hosts", ignore_errors=True)


def _rewrite(ws: Workspace, stage: Path) -> dict[str, list[str]]:
    """Write every table in the new layout under ``stage``, move the files into the
    workspace (beside the old ones) and return the new manifest's ``files``."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'; SET preserve_insertion_order = false; "
                    f"SET temp_directory = {literal(stage / 'tmp')}")
        install_url_functions(con)
        for table in _V1_TABLES:
            files = [str(ws.path / f) for f in ws.manifest["files"].get(table, [])]
            if not files:
                continue
            cols = ", ".join(c for c, _ in TABLE_COLUMNS[table] if c != "ingest_id")
            con.execute(
                f"COPY (SELECT {cols}, platform, ingest_id FROM read_parquet("
                f"{literal_list(files)}, hive_partitioning=true, "
                "hive_types={'platform': VARCHAR}, union_by_name=true)) "
                f"TO {literal(stage / table)} (FORMAT parquet, PARTITION_BY (ingest_id), "
                "COMPRESSION snappy)")
        events = stage / "events"
        if events.exists():
            src = (f"read_parquet({literal(events.as_posix() + '/**/*.parquet')}, "
                   "hive_partitioning=true, hive_types={'ingest_id': VARCHAR})")
            urls = url_map_table(con, f"SELECT DISTINCT unnest(urls) AS url FROM {src} "
                                      "WHERE urls IS NOT NULL")
            # each URL belongs to the first ingest (in the log's order) that brought it
            order = pa.table({"ingest_id": [r["ingest_id"] for r in ws.manifest["ingests"]],
                              "seq": list(range(len(ws.manifest["ingests"])))})
            con.register("mapped", urls)
            con.register("ingest_order", order)
            con.execute(
                "COPY (SELECT m.*, f.ingest_id FROM mapped m JOIN (SELECT u.url, "
                "arg_min(u.ingest_id, o.seq) AS ingest_id FROM (SELECT unnest(urls) AS url, "
                f"ingest_id FROM {src}) u JOIN ingest_order o USING (ingest_id) GROUP BY u.url) f "
                f"USING (url)) TO {literal(stage / 'url_map')} (FORMAT parquet, "
                "PARTITION_BY (ingest_id), COMPRESSION zstd)")
            con.unregister("mapped")
            con.unregister("ingest_order")
    finally:
        con.close()
    new: dict[str, list[str]] = {t: [] for t in TABLE_COLUMNS}
    for table in TABLE_COLUMNS:
        tdir = stage / table
        if not tdir.exists():
            continue
        for part in sorted(d for d in tdir.iterdir() if d.is_dir()):
            dest = ws.path / table / part.name
            dest.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(sorted(part.glob("*.parquet"))):
                target = dest / f"part-{i}.parquet"
                f.replace(target)
                new[table].append(target.relative_to(ws.path).as_posix())
    return new


def _counts(ws: Workspace) -> dict[str, int]:
    con = ws.connect()
    try:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                for t in TABLE_COLUMNS}
    finally:
        con.close()
