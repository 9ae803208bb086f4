"""In-memory event model: column arrays, multi-valued fields, and the global event log.

Generators produce :class:`EventBatch` objects (one row per event, integer codes only) and add
them to an :class:`EventLog`, which hands back global event numbers so that later batches can
re-share or reply to earlier events. :meth:`EventLog.finalize` concatenates everything, sorts by
time and assigns the public, platform-style event ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .config import END, PLATFORMS, START
from .sampling import mix64

__all__ = ["EVENT_ID_BASE", "EventBatch", "EventLog", "Multi"]

#: Numeric base of event ids per platform (above 2**53 so they must stay strings).
EVENT_ID_BASE = np.array(
    [10_150_000_000_000_000, 3_100_000_000_000_000_000, 1_890_000_000_000_000_000], dtype=np.int64
)


@dataclass
class Multi:
    """A multi-valued column in CSR form: ``counts[i]`` values per row, concatenated.

    Attributes
    ----------
    counts : numpy.ndarray
        ``int32`` number of values in each row.
    values : numpy.ndarray
        ``int64`` codes, row after row.
    """

    counts: np.ndarray
    values: np.ndarray

    @staticmethod
    def empty(n: int) -> Multi:
        """Return ``n`` rows with no values."""
        return Multi(np.zeros(n, dtype=np.int32), np.zeros(0, dtype=np.int64))

    @staticmethod
    def single(mask: np.ndarray, values: np.ndarray) -> Multi:
        """One value in each row where ``mask`` holds, none elsewhere.

        Parameters
        ----------
        mask : numpy.ndarray
            Boolean per row.
        values : numpy.ndarray
            One code per row (only the masked ones are kept).

        Returns
        -------
        Multi
            The column.
        """
        return Multi(mask.astype(np.int32), np.asarray(values, dtype=np.int64)[mask])

    @staticmethod
    def from_slots(masks: list[np.ndarray], values: list[np.ndarray]) -> Multi:
        """Build rows from optional slots: slot ``k`` adds ``values[k][i]`` to row ``i`` where
        ``masks[k][i]`` holds, after the earlier slots' values.

        Parameters
        ----------
        masks : list[numpy.ndarray]
            One boolean array per slot.
        values : list[numpy.ndarray]
            One value array per slot (same length as the masks).

        Returns
        -------
        Multi
            The column.
        """
        counts = np.sum([m.astype(np.int32) for m in masks], axis=0).astype(np.int32)
        offs = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offs[1:])
        vals = np.empty(int(offs[-1]), dtype=np.int64)
        pos = offs[:-1].copy()
        for m, v in zip(masks, values):
            vals[pos[m]] = np.asarray(v, dtype=np.int64)[m]
            pos += m
        return Multi(counts, vals)

    @staticmethod
    def where(mask: np.ndarray, a: Multi, b: Multi) -> Multi:
        """Row-wise choice: rows of ``a`` where ``mask`` holds, rows of ``b`` elsewhere."""
        n = len(mask)
        pick = np.where(mask, np.arange(n), n + np.arange(n))
        return Multi.concat([a, b]).take(pick)

    def offsets(self) -> np.ndarray:
        """Row start offsets, length ``n + 1``."""
        out = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=out[1:])
        return out

    def rows(self) -> np.ndarray:
        """Row number of each value."""
        return np.repeat(np.arange(len(self.counts), dtype=np.int64), self.counts)

    def take(self, idx: np.ndarray) -> Multi:
        """Gather rows.

        Parameters
        ----------
        idx : numpy.ndarray
            Row positions.

        Returns
        -------
        Multi
            The selected rows, in the order given.
        """
        starts = self.offsets()[:-1][idx]
        cnt = self.counts[idx]
        new = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(cnt, out=new[1:])
        pos = np.repeat(starts - new[:-1], cnt) + np.arange(int(new[-1]), dtype=np.int64)
        return Multi(cnt, self.values[pos])

    @staticmethod
    def concat(parts: list[Multi]) -> Multi:
        """Stack columns row-wise."""
        return Multi(
            np.concatenate([p.counts for p in parts]),
            np.concatenate([p.values for p in parts]),
        )


def _full(n: int, v: int, dtype: type) -> np.ndarray:
    return np.full(n, v, dtype=dtype)


@dataclass
class EventBatch:
    """Events as parallel integer arrays.

    Attributes
    ----------
    platform, action : numpy.ndarray
        ``int8`` codes (see :mod:`lockstep.simulate.config`).
    account : numpy.ndarray
        Acting account (global account index).
    ts : numpy.ndarray
        UNIX seconds.
    text_n : numpy.ndarray
        Number of words of text (0: no text).
    text_key, text_edit : numpy.ndarray
        Seeds of the words; a non-zero ``text_edit`` replaces a few words, making a near copy
        of another event with the same ``text_key``.
    topic : numpy.ndarray
        Topic block mixed into the words (0: none).
    reposted, replied : numpy.ndarray
        Global event numbers (``-1``: none).
    venue : numpy.ndarray
        Page or group account index (``-1``: none).
    urls, hashtags, mentions, images : Multi
        Multi-valued fields.
    """

    platform: np.ndarray
    account: np.ndarray
    ts: np.ndarray
    action: np.ndarray
    text_n: np.ndarray
    text_key: np.ndarray
    text_edit: np.ndarray
    topic: np.ndarray
    reposted: np.ndarray
    replied: np.ndarray
    venue: np.ndarray
    urls: Multi = field(default_factory=lambda: Multi.empty(0))
    hashtags: Multi = field(default_factory=lambda: Multi.empty(0))
    mentions: Multi = field(default_factory=lambda: Multi.empty(0))
    images: Multi = field(default_factory=lambda: Multi.empty(0))

    MULTI = ("urls", "hashtags", "mentions", "images")

    @classmethod
    def make(cls, platform: np.ndarray | int, account: np.ndarray, ts: np.ndarray,
             action: np.ndarray | int, **kw: object) -> EventBatch:
        """Build a batch, filling every column not given with "none".

        Parameters
        ----------
        platform : numpy.ndarray or int
            Platform code(s).
        account : numpy.ndarray
            Acting accounts.
        ts : numpy.ndarray
            Timestamps.
        action : numpy.ndarray or int
            Action code(s).
        **kw
            Any other column.

        Returns
        -------
        EventBatch
            The batch.
        """
        n = len(account)
        cols: dict[str, object] = {
            "platform": np.broadcast_to(np.asarray(platform, dtype=np.int8), (n,)).copy(),
            "account": np.asarray(account, dtype=np.int64),
            "ts": np.asarray(ts, dtype=np.int64),
            "action": np.broadcast_to(np.asarray(action, dtype=np.int8), (n,)).copy(),
            "text_n": _full(n, 0, np.uint8),
            "text_key": _full(n, 0, np.int64),
            "text_edit": _full(n, 0, np.int64),
            "topic": _full(n, 0, np.int16),
            "reposted": _full(n, -1, np.int64),
            "replied": _full(n, -1, np.int64),
            "venue": _full(n, -1, np.int64),
        }
        for m in cls.MULTI:
            cols[m] = Multi.empty(n)
        for k, v in kw.items():
            if isinstance(v, Multi):
                cols[k] = v
            else:
                ref = cols[k]
                assert isinstance(ref, np.ndarray)
                cols[k] = np.broadcast_to(np.asarray(v, dtype=ref.dtype), (n,)).copy()
        return cls(**cols)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.account)

    def take(self, idx: np.ndarray) -> EventBatch:
        """Gather rows (multi-valued fields included)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.take(idx) if isinstance(v, Multi) else v[idx]
        return EventBatch(**out)

    @staticmethod
    def concat(parts: list[EventBatch]) -> EventBatch:
        """Stack batches."""
        out: dict[str, Any] = {}
        for f in fields(EventBatch):
            vals = [getattr(p, f.name) for p in parts]
            out[f.name] = Multi.concat(vals) if isinstance(vals[0], Multi) else np.concatenate(vals)
        return EventBatch(**out)


class EventLog:
    """Collects batches and gives every event a global number in insertion order."""

    def __init__(self) -> None:
        self.batches: list[EventBatch] = []
        self.sources: list[str] = []
        self.n = 0

    def add(self, batch: EventBatch, source: str) -> np.ndarray:
        """Append a batch.

        Parameters
        ----------
        batch : EventBatch
            The events.
        source : str
            What produced them (``ordinary``, ``cascade``, ``cib``, ``spam``, ``authentic``).

        Returns
        -------
        numpy.ndarray
            Global event numbers of the rows, usable as ``reposted``/``replied`` targets.
        """
        ids = np.arange(self.n, self.n + len(batch), dtype=np.int64)
        self.batches.append(batch)
        self.sources.append(source)
        self.n += len(batch)
        return ids

    def finalize(self) -> tuple[EventBatch, np.ndarray, dict[str, int]]:
        """Concatenate, keep the simulated period, sort by time and assign event ids.

        Returns
        -------
        events : EventBatch
            All events in time order; ``reposted``/``replied`` now hold public event id numbers.
        event_num : numpy.ndarray
            Public event id number of each row (unique per platform).
        by_source : dict[str, int]
            Events kept per source.
        """
        ev = EventBatch.concat(self.batches)
        names = sorted(set(self.sources))
        src = np.repeat(np.array([names.index(s) for s in self.sources], dtype=np.int8),
                        [len(b) for b in self.batches])
        self.batches = []
        keep = (ev.ts >= START) & (ev.ts < END)
        counts = np.bincount(src[keep], minlength=len(names))
        by_source = {nm: int(c) for nm, c in zip(names, counts)}
        order = np.flatnonzero(keep)
        order = order[np.argsort(ev.ts[order], kind="stable")]
        ev = ev.take(order)
        n_old = len(keep)
        new_pos = np.full(n_old, -1, dtype=np.int64)
        new_pos[order] = np.arange(len(order), dtype=np.int64)

        num = np.zeros(len(ev), dtype=np.int64)
        for p in range(len(PLATFORMS)):
            m = ev.platform == p
            rank = np.arange(int(m.sum()), dtype=np.int64)
            jitter = (mix64(rank, 41 + p) % np.uint64(7919)).astype(np.int64)
            num[m] = EVENT_ID_BASE[p] + rank * 7919 + jitter
        for col in ("reposted", "replied"):
            ref = getattr(ev, col)
            pos = np.where(ref >= 0, new_pos[np.maximum(ref, 0)], -1)
            setattr(ev, col, np.where(pos >= 0, num[np.maximum(pos, 0)], -1))
        return ev, num, by_source
