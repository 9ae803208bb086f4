"""Staging straight from one events file, in small memory (no workspace, no ingest).

For :func:`lockstep.detectors.coaction_io.write_pairs` given a generic events file (CSV,
optionally gzipped, or Parquet). What :func:`~lockstep.detectors.sweep.stage_lean` gives
from a workspace, built without holding more than a batch of text at once:

1. DuckDB streams the file (its CSV reader with the generic reader's options and a 1 MiB
   buffer, or Parquet cast to text as the generic reader does) through the ingest's own typing
   SQL (:func:`lockstep.readers.transform.typed_select`: same timestamp rules, trimming and
   checks; a bad row raises :class:`~lockstep.exceptions.BadInputError`) and hands out Arrow
   batches of 64k rows: no table of the file is ever built.
2. Pass 1 collects the distinct accounts ``(platform, account_id)`` and objects with their
   64-bit DuckDB hashes (and each object's number of rows). Two different keys with one hash
   would be caught when batches and partial sets are deduplicated (:class:`_HashCodes`
   compares the strings of equal hashes) and raise :class:`HashCollision`; the caller then stages
   through DuckDB instead. So codes are exact, never probabilistic.
3. Pass 2 reads the file again and maps each row's hashes to account codes (in
   ``(platform, account_id)`` order) and object codes by binary search; rows of objects acted
   on once are dropped; the others are placed by object with a counting sort (the object
   sizes are known from pass 1) and then sorted by time within each object, a few objects at
   a time.

Memory: 16 bytes per row of an object acted on at least twice (12 when every time is a
whole second: times are then int32 seconds, see ``Rows.t_scale``), plus the account and
object tables (~30 bytes per distinct account or object), one batch, and DuckDB's reader
(about 35 MB on two threads). Rows are used as
they are in the file: ingest would also drop repeated event ids.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lockstep._memory import release_memory
from lockstep.detectors.sweep import PLATFORM_SCOPED, SCALAR_TYPES, Rows
from lockstep.exceptions import BadInputError, RowError, UsageError
from lockstep.readers.base import LIST_COLUMNS as _LIST_COLUMNS
from lockstep.readers.base import MAX_RECORD_BYTES
from lockstep.readers.generic import GenericReader, file_kind
from lockstep.sql import literal

if TYPE_CHECKING:
    import duckdb

__all__ = ["HashCollision", "_stage_file"]

#: DuckDB's CSV buffer: twice the longest record any reader accepts (a line longer than the
#: buffer would be dropped without a word; scan_csv refuses longer ones first)
_BUFFER = 2 * MAX_RECORD_BYTES
_BATCH_ROWS = 1 << 16  # rows per Arrow batch out of DuckDB
_SORT_ROWS = 1 << 18  # rows sorted at once (whole objects)
_BAD = "lockstep: bad row in "
_US = 1_000_000


class HashCollision(Exception):
    """Two different accounts or objects have the same 64-bit hash (stage another way)."""


class _HashCodes:
    """Distinct keys by 64-bit hash, exactly: each batch is deduplicated, looked up in the
    sorted *runs* built so far (its keys found there are compared string by string), and
    the rest wait in a pending list that becomes a new run when large; runs of similar size
    are merged (so there are about log2(keys / 256k) of them and no merge copies much more
    than it adds). Any two different keys with one hash raise :class:`HashCollision`."""

    def __init__(self, names: tuple[str, ...], counted: bool, pending_max: int = 1 << 18) -> None:
        self.names = names
        self.counted = counted
        self.runs: list[tuple[np.ndarray, list[pa.Array], np.ndarray | None]] = []
        self.pending: list[tuple[np.ndarray, list[pa.Array], np.ndarray | None]] = []
        self.n_pending = 0
        self.pending_max = pending_max

    def add(self, h: np.ndarray, cols: list[pa.Array]) -> None:
        """Add one row per hash (repeats allowed; counted as rows when ``counted``)."""
        n = np.ones(len(h), dtype=np.int64) if self.counted else None
        h, cols, n = _dedupe(h, cols, n)
        for rh, rcols, rn in self.runs:
            if not len(h):
                break
            idx = np.minimum(np.searchsorted(rh, h), len(rh) - 1)
            found = rh[idx] == h
            if not found.any():
                continue
            at = idx[found]
            pos = pa.array(np.flatnonzero(found))
            for c, rc in zip(cols, rcols, strict=True):
                same = pc.equal(c.take(pos), rc.take(pa.array(at)))
                if not pc.all(pc.fill_null(same, False)).as_py():
                    raise HashCollision("two keys share a 64-bit hash")
            if rn is not None and n is not None:
                rn[at] += n[found]  # at is unique: h is
            rest = ~found
            h, cols = h[rest], [c.filter(pa.array(rest)) for c in cols]
            n = None if n is None else n[rest]
        if len(h):
            self.pending.append((h, cols, n))
            self.n_pending += len(h)
            if self.n_pending > self.pending_max:
                self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.runs.append(_concat_dedupe(self.pending))
            self.pending, self.n_pending = [], 0
        # merge runs of similar size, up to a cap (a merge copies both: the cap bounds that)
        while (len(self.runs) > 1 and len(self.runs[-2][0]) < 4 * self.pending_max
               and 2 * len(self.runs[-1][0]) >= len(self.runs[-2][0])):
            last, prev = self.runs.pop(), self.runs.pop()
            self.runs.append(_concat_dedupe([prev, last]))

    def result(self) -> tuple[np.ndarray, list[pa.Array], np.ndarray | None]:
        """The keys, their hashes and summed counts, run after run (runs are disjoint, each
        sorted by hash; the whole is not: sort the hashes to search them)."""
        self._flush()
        if not self.runs:
            return (np.zeros(0, np.uint64), [pa.array([], pa.string()) for _ in self.names],
                    np.zeros(0, np.int64) if self.counted else None)
        runs, self.runs = self.runs, []
        h = np.concatenate([r[0] for r in runs])
        cols = [pa.concat_arrays([r[1][k] for r in runs]) for k in range(len(self.names))]
        n = np.concatenate([r[2] for r in runs]) if self.counted else None  # type: ignore[misc]
        return h, cols, n


def _concat_dedupe(parts: list[tuple[np.ndarray, list[pa.Array], np.ndarray | None]]
                   ) -> tuple[np.ndarray, list[pa.Array], np.ndarray | None]:
    h = np.concatenate([p[0] for p in parts])
    cols = [pa.concat_arrays([p[1][k] for p in parts]) for k in range(len(parts[0][1]))]
    n = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])  # type: ignore[misc]
    parts.clear()
    return _dedupe(h, cols, n)


def _dedupe(h: np.ndarray, cols: list[pa.Array], n: np.ndarray | None
            ) -> tuple[np.ndarray, list[pa.Array], np.ndarray | None]:
    """Unique hashes (sorted), the key columns of each and the summed counts; raises
    :class:`HashCollision` if two rows with one hash differ in a key column."""
    order = np.argsort(h, kind="stable")
    hs = h[order]
    first = np.empty(len(hs), dtype=bool)
    first[:1] = True
    np.not_equal(hs[1:], hs[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    dup = np.flatnonzero(~first)
    if len(dup):
        head = starts[np.cumsum(first)[dup] - 1]
        for c in cols:
            same = pc.equal(c.take(pa.array(order[dup])), c.take(pa.array(order[head])))
            if not pc.all(pc.fill_null(same, False)).as_py():
                raise HashCollision("two keys share a 64-bit hash")
    keep = pa.array(order[starts])
    counts = np.add.reduceat(n[order], starts) if n is not None and len(starts) else (
        None if n is None else n[:0])
    return hs[starts], [c.take(keep) for c in cols], counts


def _source_view(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Define the view ``raw_events`` over ``path`` as the generic reader reads it (all text;
    CSV with its parser options, but a 1 MiB buffer) and return the column types."""
    from lockstep.readers.generic import check_names, check_required, csv_header, scan_csv

    src = literal(str(path))
    kind = file_kind(path)
    if kind == "csv":
        scan_csv(path)  # a line over the record limit is refused, never dropped by DuckDB
        header = csv_header(path)
        if header is None:
            raise BadInputError(str(path), [RowError(str(path), 1, "empty file or no header row")])
        check_names(path, header)
        check_required(path, "events", header)
        types = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW raw_events AS SELECT * FROM read_csv({src}, "
            f"header=true, delim=',', quote='\"', escape='\"', columns={types}, "
            "auto_detect=false, strict_mode=true, null_padding=false, parallel=true, "
            f"max_line_size={MAX_RECORD_BYTES}, buffer_size={_BUFFER})")
        return {c: "VARCHAR" for c in header}
    if kind == "parquet":
        desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet({src})").fetchall()
        check_required(path, "events", [d[0] for d in desc])
        sel, out = [], {}
        for name, typ, *_ in desc:
            q = '"' + name.replace('"', '""') + '"'
            lst = name in _LIST_COLUMNS and typ.endswith("[]")
            sel.append(f"CAST({q} AS {'VARCHAR[]' if lst else 'VARCHAR'}) AS {q}")
            out[name] = "VARCHAR[]" if lst else "VARCHAR"
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw_events AS SELECT {', '.join(sel)} "
                    f"FROM read_parquet({src})")
        return out
    raise UsageError(f"{path}: read directly only from a generic events file (.csv, .csv.gz, "
                     ".parquet); ingest other formats into a workspace first")


def _stage_file(path: Path, otype: str, *, threads: int = 2, keep_bytes: int = 0
                ) -> tuple[Rows, dict[str, int]]:
    """Rows of the objects of ``otype`` acted on at least twice, from one generic events
    file, as :func:`~lockstep.detectors.sweep.stage_lean` gives them from a workspace, with
    the counts of the whole input. Raises :class:`HashCollision` in the (astronomically
    rare) case that two keys share a hash. When the rows' hashes and times (24 bytes a row)
    fit in ``keep_bytes``, pass 1 keeps them and the file is read once."""
    import duckdb

    from lockstep.readers.transform import install_transform_functions, typed_select
    from lockstep.schema import SCALAR_OBJECTS
    from lockstep.urls import install_url_functions

    if otype not in SCALAR_TYPES:
        raise ValueError(f"file staging is for {sorted(SCALAR_TYPES)}, not {otype!r}")
    scope = "platform" if otype in PLATFORM_SCOPED else "''"
    col = SCALAR_OBJECTS[otype]

    def connect() -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
        c = duckdb.connect()
        try:
            c.execute(f"SET threads = {int(threads)}; SET TimeZone = 'UTC'; "
                      "SET memory_limit = '64MB'; SET preserve_insertion_order = false")
            install_url_functions(c)
            install_transform_functions(c)
            return c, _source_view(c, path)
        except BaseException:
            c.close()
            raise

    con, types = connect()
    try:
        typed = typed_select("events", "raw_events", types, None, ord_expr="NULL::BIGINT")
        keep = (f"{col} IS NOT NULL AND trim({col}) <> '' AND account_id IS NOT NULL "
                "AND trim(account_id) <> '' AND ts IS NOT NULL AND event_id IS NOT NULL")
        bad = literal(_BAD + str(path) + ": ")

        def scan(select: str, where: str = "true") -> Iterator[pa.RecordBatch]:
            try:
                yield from con.sql(f"SELECT {select} FROM ({typed}) WHERE {where}"
                                   ).to_arrow_reader(_BATCH_ROWS)
            except duckdb.Error as exc:
                msg = str(exc)
                if _BAD not in msg:
                    if isinstance(exc, duckdb.InvalidInputException) and \
                            file_kind(path) == "csv":  # the parser stopped: one line
                        raise GenericReader.csv_failure(path, exc) from None
                    raise
                raise BadInputError(str(path), [RowError(
                    str(path), None, msg[msg.index(_BAD) + len(_BAD):].split("\n")[0])],
                    hint="; ingest the file to see every bad row") from None

        # pass 1: distinct accounts and objects (with rows per object); every row is typed
        # and checked (the check is a selected column, so no filter can skip it)
        accs = _HashCodes(("platform", "account_id"), counted=False)
        objs = _HashCodes(("op", "object_id"), counted=True)
        t_min, t_max, whole_s = None, None, True
        kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = (
            [] if keep_bytes > 0 else None)
        kept_bytes = 0
        for b in scan(f"hash(platform, account_id) AS ha, platform, account_id, "
                      f"hash({scope}, {col}) AS ho, {scope} AS op, {col} AS object_id, "
                      f"{keep} AS k, CASE WHEN _err IS NOT NULL THEN error({bad} || _err) "
                      "END AS chk, epoch_us(ts) AS t"):
            k = b.column(6)
            if k.null_count or not pc.all(k).as_py():
                b = b.filter(pc.fill_null(k, False))
            if not b.num_rows:
                continue
            accs.add(b.column(0).to_numpy(), [b.column(1), b.column(2)])
            objs.add(b.column(3).to_numpy(), [b.column(4), b.column(5)])
            t = b.column(8).to_numpy()
            if kept is not None:
                # copies: a zero-copy view would keep DuckDB's whole batch (every column's
                # text) alive through the import's release callback (measured: twice the
                # memory of the kept numbers)
                kept.append((b.column(0).to_numpy().copy(), b.column(3).to_numpy().copy(),
                             t.copy()))
                kept_bytes += 24 * len(t)
                if kept_bytes > keep_bytes:
                    kept = None  # too many: read the file again in pass 2
            lo, hi = int(t.min()), int(t.max())
            t_min = lo if t_min is None else min(t_min, lo)
            t_max = hi if t_max is None else max(t_max, hi)
            whole_s = whole_s and not np.any(t % _US)
        acc_h, (plat, acc), _ = accs.result()
        del accs
        by_name = pc.sort_indices(pa.table({"p": plat, "a": acc}),
                                  sort_keys=[("p", "ascending"), ("a", "ascending")])
        acc_platform, acc_id = plat.take(by_name), acc.take(by_name)
        del plat, acc
        acc_code = np.empty(len(acc_h), dtype=np.int32)
        acc_code[by_name.to_numpy()] = np.arange(len(acc_h), dtype=np.int32)
        del by_name
        by_hash = np.argsort(acc_h)
        acc_h, acc_code = acc_h[by_hash], acc_code[by_hash]
        del by_hash
        obj_h, (_, obj), obj_n = objs.result()
        del objs
        assert obj_n is not None
        by_hash = np.argsort(obj_h)
        obj_h, obj_n = obj_h[by_hash], obj_n[by_hash]
        obj = obj.take(pa.array(by_hash))
        del by_hash
        shared = obj_n >= 2
        n_shared = int(np.count_nonzero(shared))
        obj_code = np.full(len(obj_h), -1, dtype=np.int32)
        obj_code[shared] = np.arange(n_shared, dtype=np.int32)
        sizes = obj_n[shared]
        obj_id = obj.filter(pa.array(shared))
        counts = {"rows": int(obj_n.sum()), "accounts": len(acc_h), "objects": len(obj_h),
                  "objects_shared": n_shared}
        del obj, obj_n, shared

        # pass 2: rows by object (counting sort), then by time within each object
        n = int(sizes.sum())
        starts = np.cumsum(sizes) - sizes
        fill = starts.copy()
        a_out = np.empty(n, dtype=np.int32)
        # whole seconds within 68 years: int32 seconds after the first (half the memory)
        seconds = t_min is not None and whole_s and (t_max - t_min) // _US < (1 << 31) - 1
        t_base = int(t_min) if seconds else 0  # type: ignore[arg-type]
        t_scale = _US if seconds else 1
        t_out = np.empty(n, dtype=np.int32 if seconds else np.int64)
        changed = BadInputError(str(path), [RowError(str(path), None, "the file changed "
                                                     "while it was read")])

        def again() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
            nonlocal con
            if kept is not None:
                while kept:
                    yield kept.pop(0)
                return
            con.close()  # a fresh connection: what DuckDB cached in pass 1 is freed
            release_memory()
            con, _ = connect()
            for b in scan(f"hash(platform, account_id), hash({scope}, {col}), epoch_us(ts)",
                          keep):
                yield b.column(0).to_numpy(), b.column(1).to_numpy(), b.column(2).to_numpy()

        for ha, ho, t in again():
            io = np.minimum(np.searchsorted(obj_h, ho), len(obj_h) - 1)
            ia = np.minimum(np.searchsorted(acc_h, ha), len(acc_h) - 1)
            if len(io) and (np.any(obj_h[io] != ho) or np.any(acc_h[ia] != ha)):
                raise changed
            o = obj_code[io]
            sel = o >= 0
            o, a, t = o[sel], acc_code[ia[sel]], t[sel]
            order = np.argsort(o, kind="stable")
            o, a, t = o[order], a[order], t[order]
            first = np.empty(len(o), dtype=bool)
            first[:1] = True
            np.not_equal(o[1:], o[:-1], out=first[1:])
            gs = np.flatnonzero(first)
            size = np.diff(np.append(gs, len(o)))
            pos = fill[o] + (np.arange(len(o)) - np.repeat(gs, size))
            if len(pos) and np.any(pos >= starts[o] + sizes[o]):
                raise changed
            a_out[pos] = a
            t_out[pos] = (t - t_base) // t_scale if seconds else t
            fill[o[gs]] += size
        if np.any(fill != starts + sizes):
            raise changed
    finally:
        con.close()
    o_out = np.repeat(np.arange(n_shared, dtype=np.int32), sizes)
    _sort_times(o_out, a_out, t_out, starts, sizes)
    rows = Rows(o=o_out, t=t_out, a=a_out, e=np.zeros(0, dtype=np.int32), multi=False,
                acc_platform=acc_platform, acc_id=acc_id, ev_id=pa.array([], pa.string()),
                obj_id=obj_id, n_events=counts["rows"], lean=True, t_scale=t_scale,
                t_base=t_base)
    return rows, counts


def _sort_times(o: np.ndarray, a: np.ndarray, t: np.ndarray, starts: np.ndarray,
                sizes: np.ndarray) -> None:
    """Sort rows grouped by object by time within each object, in place, whole objects
    ``_SORT_ROWS`` rows at a time."""
    n_obj = len(starts)
    ends = starts + sizes
    k0 = 0
    while k0 < n_obj:
        k1 = max(k0 + 1, int(np.searchsorted(ends, starts[k0] + _SORT_ROWS, side="right")))
        k1 = min(k1, n_obj)
        r0, r1 = int(starts[k0]), int(ends[k1 - 1])
        ts = t[r0:r1]
        local = starts[k0:k1] - r0
        tmin = np.minimum.reduceat(ts, local)
        rel = ts.astype(np.int64) - np.repeat(tmin, sizes[k0:k1])
        obits = max(1, (k1 - k0 - 1).bit_length())
        if int(rel.max()).bit_length() + obits <= 63:
            rel |= (o[r0:r1].astype(np.int64) - o[r0]) << (63 - obits)
            perm = np.argsort(rel)
        else:
            perm = np.lexsort((ts, o[r0:r1]))
        del rel
        t[r0:r1] = ts[perm]
        a[r0:r1] = a[r0:r1][perm]
        k0 = k1

