"""Writing tables as Parquet or CSV, chunk by chunk, in the generic-v1 layout.

Column kinds:

* ``str``: string (null = missing; written as an empty field in CSV);
* ``ts``: UNIX seconds in memory; a UTC timestamp column in Parquet (Parquet has no seconds
  unit, so the file holds ``timestamp[ms, tz=UTC]`` with whole seconds), ISO 8601 text
  with ``Z`` (second precision) in CSV;
* ``list``: ``list<string>`` in Parquet (an empty list = no values), whitespace-separated text
  in CSV (an empty field = no values);
* ``int`` and ``bool``: ``int64`` and ``bool`` (``true``/``false`` in CSV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["COLUMNS", "FORMATS", "TableWriter"]

FORMATS = ("parquet", "csv")

#: Columns of every table written, in order, with their kind.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (
        ("platform", "str"), ("event_id", "str"), ("account_id", "str"), ("timestamp", "ts"),
        ("action", "str"), ("text", "str"), ("urls", "list"), ("hashtags", "list"),
        ("mentions", "list"), ("reposted_id", "str"), ("replied_id", "str"),
        ("image_hashes", "list"), ("venue_id", "str"),
    ),
    "accounts": (
        ("platform", "str"), ("account_id", "str"), ("kind", "str"), ("handle", "str"),
        ("display_name", "str"), ("bio", "str"), ("created_at", "ts"), ("claimed_country", "str"),
        ("followers", "int"), ("verified", "bool"),
    ),
    "sessions": (
        ("platform", "str"), ("account_id", "str"), ("timestamp", "ts"), ("ip", "str"),
        ("device_id", "str"), ("user_agent", "str"), ("country", "str"),
    ),
    "roles": (
        ("platform", "str"), ("account_id", "str"), ("asset_id", "str"), ("role", "str"),
        ("since", "ts"),
    ),
    "truth": (
        ("platform", "str"), ("account_id", "str"), ("network_id", "str"), ("network_kind", "str"),
        ("operator_id", "str"), ("role", "str"), ("tier", "int"), ("origin_country", "str"),
        ("target_country", "str"),
    ),
    "networks": (
        ("network_id", "str"), ("network_kind", "str"), ("tier", "int"), ("name", "str"),
        ("theme", "str"), ("origin_country", "str"), ("target_country", "str"),
        ("platforms", "list"), ("hashtags", "list"), ("domains", "list"), ("n_accounts", "int"),
        ("n_operators", "int"), ("n_fakes", "int"), ("n_pages", "int"), ("n_groups", "int"),
        ("n_members", "int"), ("n_spam_bots", "int"), ("n_events", "int"),
        ("n_operator_slips", "int"),
    ),
}

_TS = pa.timestamp("s", tz="UTC")


def _arrow_type(kind: str, fmt: str) -> pa.DataType:
    if kind == "int":
        return pa.int64()
    if kind == "bool":
        return pa.bool_()
    if fmt == "parquet" and kind == "ts":
        return _TS
    if fmt == "parquet" and kind == "list":
        return pa.list_(pa.string())
    return pa.string()


class TableWriter:
    """Writes one table in chunks.

    Parameters
    ----------
    out : pathlib.Path
        Output directory.
    name : str
        Table name (a key of :data:`COLUMNS`).
    fmt : str
        ``"parquet"`` or ``"csv"``.
    """

    def __init__(self, out: Path, name: str, fmt: str) -> None:
        self.spec = COLUMNS[name]
        self.fmt = fmt
        self.path = out / f"{name}.{fmt}"
        self.schema = pa.schema([(c, _arrow_type(k, fmt)) for c, k in self.spec])
        self.rows = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        else:
            self._writer = pacsv.CSVWriter(self.path, self.schema)

    def _convert(self, kind: str, value: object) -> pa.Array:
        if kind == "ts":
            ts = pa.array(np.asarray(value, dtype=np.int64), _TS)
            return ts if self.fmt == "parquet" else pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")
        if kind == "list":
            arr = value if isinstance(value, pa.Array) else pa.array(value, pa.list_(pa.string()))
            if self.fmt == "parquet":
                return arr
            joined = pc.binary_join(arr, " ")
            return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)
        if kind == "int":
            return value if isinstance(value, pa.Array) else pa.array(value, pa.int64())
        if kind == "bool":
            return value if isinstance(value, pa.Array) else pa.array(np.asarray(value, dtype=bool))
        return value if isinstance(value, pa.Array) else pa.array(value, pa.string())

    def write(self, cols: dict[str, object]) -> None:
        """Append rows.

        Parameters
        ----------
        cols : dict[str, object]
            One entry per column of the table: Arrow arrays, or numpy arrays (UNIX seconds for
            ``ts`` columns).
        """
        arrays = [self._convert(k, cols[c]).cast(self.schema.field(c).type) for c, k in self.spec]
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self.rows += table.num_rows
        self._writer.write_table(table)

    def close(self) -> Path:
        """Finish the file and return its path."""
        self._writer.close()
        return self.path
