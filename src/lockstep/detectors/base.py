"""The detector contract: parameters, ``fit`` over a workspace, account-pair edges out.

Every detector is a :class:`BaseDetector` (scikit-learn conventions): tunables are keyword-only
``__init__`` arguments stored verbatim, ``fit(workspace)`` validates them and sets the learned
attributes (names ending in ``_``) and returns ``self``. A subclass implements one method,
:meth:`BaseDetector._pair_edges`, which returns the raw edges of its signal; the base class
checks and orders them (:data:`EDGE_SCHEMA`), applies ``min_weight`` and records timings.

Detection is transductive (like pyod's graph detectors): there is no ``predict`` on new data;
re-fit on the workspace instead.
"""
from __future__ import annotations

from numbers import Real

import abc
import inspect
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import pyarrow as pa
import pyarrow.compute as pc

from lockstep.exceptions import LockstepError, UsageError

if TYPE_CHECKING:
    import duckdb

    from lockstep.workspace import Workspace

__all__ = ["BaseDetector", "NotFittedError", "check_is_fitted", "EDGE_SCHEMA", "EDGE_COLUMNS",
           "empty_edges", "AccountRef", "Laps", "as_workspace", "check_int", "check_real",
           "match_account"]

#: Columns and types of :attr:`BaseDetector.edges_`. An account is ``(platform, account_id)``:
#: one object (a URL, a hashtag) can tie accounts of two platforms. Each row has
#: ``(platform_a, account_a) < (platform_b, account_b)``; ``weight`` is the number of
#: qualifying event pairs, ``support`` the number of distinct objects behind them,
#: ``evidence`` up to ``max_evidence`` ``"event_a|event_b"`` ids (``event_a`` by account a);
#: non-event signals write their own documented evidence ids (``"device:<id>"`` ...).
#: ``expected`` is what the detector's null model (chance) gives for the pair's test
#: statistic and ``p_value`` the one-sided probability, under that null, of a pair at least as
#: extreme, conditional on the pair being in the output at all (so ``0 < p_value <= 1``); each
#: detector documents its null. :mod:`lockstep.significance` controls the false discovery rate
#: over these p-values.
EDGE_SCHEMA = pa.schema([
    ("platform_a", pa.string()), ("account_a", pa.string()),
    ("platform_b", pa.string()), ("account_b", pa.string()),
    ("signal", pa.string()), ("weight", pa.int64()), ("support", pa.int64()),
    ("first_seen", pa.timestamp("us", tz="UTC")), ("last_seen", pa.timestamp("us", tz="UTC")),
    ("median_delta_s", pa.float64()), ("evidence", pa.list_(pa.string())),
    ("expected", pa.float64()), ("p_value", pa.float64()),
])
EDGE_COLUMNS: tuple[str, ...] = tuple(EDGE_SCHEMA.names)

#: An account given to :meth:`BaseDetector.evidence`: ``"account_id"`` (any platform) or
#: ``("platform", "account_id")``.
AccountRef = str | tuple[str, str]


class Laps:
    """Seconds per stage of a fit: ``lap("stage")`` records the time since the previous lap
    (or since creation) under that name in :attr:`seconds` (for ``stats_["seconds"]``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._clock, 4)
        self._clock = now


class NotFittedError(LockstepError, AttributeError):
    """A fitted attribute or method was used before :meth:`BaseDetector.fit`."""


def check_is_fitted(detector: BaseDetector, attributes: str | list[str] | None = None) -> None:
    """Raise :class:`NotFittedError` unless ``detector`` has been fitted.

    Parameters
    ----------
    detector : BaseDetector
    attributes : str or list of str, optional
        Learned attributes that must exist; by default any attribute ending in ``_``.
    """
    if attributes is None:
        fitted = [k for k in vars(detector) if k.endswith("_") and not k.startswith("_")]
    else:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        fitted = names if all(hasattr(detector, k) for k in names) else []
    if not fitted:
        raise NotFittedError(f"this {type(detector).__name__} is not fitted yet; call "
                             "fit(workspace) first")


def empty_edges() -> pa.Table:
    """An edge table with no rows and the columns of :data:`EDGE_SCHEMA`."""
    return EDGE_SCHEMA.empty_table()


def as_workspace(workspace: Workspace | str | Path) -> Workspace:
    """``workspace`` itself, or the existing workspace at that path (for ``fit``)."""
    from lockstep.workspace import Workspace

    if isinstance(workspace, Workspace):
        return workspace
    if isinstance(workspace, (str, Path)):
        return Workspace.open(workspace, create=False)
    raise UsageError(f"fit() takes a Workspace or the path of one, not {type(workspace).__name__}")


def check_int(name: str, value: Any, minimum: int) -> None:
    """``value`` must be an integer (not a bool) at least ``minimum``; else :class:`UsageError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, not {value!r}")


def check_real(name: str, value: Any, low: float, high: float, *, open_low: bool = False,
               optional: bool = False) -> None:
    """``value`` must be a number in ``[low, high]`` (``(low, high]`` with ``open_low``), or
    None when ``optional``; else :class:`UsageError`."""
    if optional and value is None:
        return
    ok = (not isinstance(value, bool) and isinstance(value, Real)
          and (low < value if open_low else low <= value) and value <= high)
    if not ok:
        span = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise UsageError(f"{name} must be {'None or ' if optional else ''}a number in {span}, "
                         f"not {value!r}")


class BaseDetector(abc.ABC):
    """Find account pairs that share a coordination signal (base class).

    Parameters
    ----------
    min_weight : int, default 1
        Keep edges whose ``weight`` is at least this.
    max_evidence : int, default 10
        At most this many ``"event_a|event_b"`` ids in each edge's ``evidence``; the full list
        of a pair comes from :meth:`evidence`.

    Attributes
    ----------
    edges_ : pyarrow.Table
        The edges, with the columns of :data:`EDGE_SCHEMA`, ordered by
        ``(platform_a, account_a, platform_b, account_b)``.
    signal_ : str
        The signal name written in the ``signal`` column (e.g. ``"co-repost"``).
    stats_ : dict
        What the fit did: counts, what was done to popular objects, seconds per stage.
    workspace_ : Workspace
        The workspace fitted, kept for :meth:`evidence`.
    """

    #: Registry key (see :func:`lockstep.detectors.get_detector`).
    name: ClassVar[str] = ""

    def __init__(self, *, min_weight: int = 1, max_evidence: int = 10) -> None:
        self.min_weight = min_weight
        self.max_evidence = max_evidence

    # -- parameters ------------------------------------------------------------------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        names = []
        for p in sig.parameters.values():
            if p.name == "self" or p.kind == p.VAR_KEYWORD:
                continue
            if p.kind != p.KEYWORD_ONLY:
                raise TypeError(f"{cls.__name__}.__init__ must take keyword-only parameters "
                                f"({p.name!r} is not)")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` parameters and their current values (stored with results, so
        that a result can be reproduced)."""
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set ``__init__`` parameters; unknown names raise :class:`UsageError`."""
        valid = set(self._get_param_names())
        for k, v in params.items():
            if k not in valid:
                raise UsageError(f"{type(self).__name__} has no parameter {k!r}; it has "
                                 f"{', '.join(sorted(valid))}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        shown = [f"{k}={v!r}" for k, v in self.get_params().items()
                 if sig.parameters[k].default is inspect.Parameter.empty
                 or v != sig.parameters[k].default]
        return f"{type(self).__name__}({', '.join(shown)})"

    def _validate_params(self) -> None:
        """Check the parameters (called by :meth:`fit`); subclasses extend it."""
        check_int("min_weight", self.min_weight, 1)
        check_int("max_evidence", self.max_evidence, 0)

    # -- the template ------------------------------------------------------------------------
    def fit(self, workspace: Workspace | str | Path, /) -> Self:
        """Compute the edges of this signal over ``workspace``'s events.

        Parameters
        ----------
        workspace : Workspace or path
            An open workspace or the path of one.

        Returns
        -------
        self
        """
        self._validate_params()
        ws = as_workspace(workspace)
        start = time.perf_counter()
        con = ws.connect()
        try:
            table, stats = self._pair_edges(con)
        finally:
            con.close()
        signal = self._signal_name()
        edges = self._conform(table, signal)
        stats = dict(stats)
        seconds = dict(stats.get("seconds", {}))
        seconds["total"] = round(time.perf_counter() - start, 4)
        stats["seconds"] = seconds
        stats["edges"] = edges.num_rows
        self.signal_ = signal
        self.edges_ = edges
        self.stats_ = stats
        self.workspace_ = ws
        return self

    @abc.abstractmethod
    def _pair_edges(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, Any]]:
        """Return ``(edges, stats)`` for this signal, read through ``con`` (a connection
        with the workspace views). ``edges`` has the columns of :data:`EDGE_SCHEMA`, each row
        with ``(platform_a, account_a) < (platform_b, account_b)``, ordered by
        ``(platform_a, account_a, platform_b, account_b)``; the base class casts them to
        :data:`EDGE_SCHEMA` and filters by ``min_weight``."""

    @abc.abstractmethod
    def _signal_name(self) -> str:
        """The signal name of this configuration (e.g. ``"co-repost"``)."""

    def _conform(self, table: pa.Table, signal: str) -> pa.Table:
        # Cheap checks only: ordering and a < b are the subclass's contract, verified by
        # lockstep.testing.check_detector (comparing strings of every row costs seconds on
        # tens of millions of edges).
        if table.num_rows == 0:
            return empty_edges()
        if table.schema != EDGE_SCHEMA:
            table = table.select(list(EDGE_COLUMNS)).cast(EDGE_SCHEMA)
        if self.min_weight > 1 and pc.min(table["weight"]).as_py() < self.min_weight:
            table = table.filter(pc.greater_equal(table["weight"], self.min_weight))
        return table

    # -- evidence ------------------------------------------------------------------------------
    def evidence(self, account_a: AccountRef, account_b: AccountRef) -> list[str]:
        """Every ``"event_a|event_b"`` id pair that ties two accounts, recomputed.

        ``edges_["evidence"]`` holds the first ``max_evidence`` of this list, in the same order.

        Parameters
        ----------
        account_a, account_b : str or (platform, account_id)
            The two accounts, in either order; a plain string matches the account id on any
            platform.

        Returns
        -------
        list of str
            ``"event_a|event_b"``, ``event_a`` being the event of the lower account of the
            pair (``(platform, account_id)`` order), as in :attr:`edges_`.
        """
        check_is_fitted(self, "edges_")
        con = self.workspace_.connect()
        try:
            return self._pair_evidence(con, _ref(account_a), _ref(account_b))
        finally:
            con.close()

    def _pair_evidence(self, con: duckdb.DuckDBPyConnection, a: tuple[str | None, str],
                       b: tuple[str | None, str]) -> list[str]:
        """Recompute the full evidence of one pair; the default reads the (capped) edges."""
        rows = self.edges_.to_pylist()
        out: list[str] = []
        for r in rows:
            x, y = (r["platform_a"], r["account_a"]), (r["platform_b"], r["account_b"])
            if ((match_account(a, x) and match_account(b, y))
                    or (match_account(a, y) and match_account(b, x))):
                out.extend(r["evidence"])
        return out


def _ref(account: AccountRef) -> tuple[str | None, str]:
    if isinstance(account, tuple) and len(account) == 2:
        return (str(account[0]), str(account[1]))
    if isinstance(account, str):
        return (None, account)
    raise UsageError(f"an account is 'account_id' or ('platform', 'account_id'), not {account!r}")


def match_account(ref: tuple[str | None, str], acc: tuple[str, str]) -> bool:
    """Whether account ``acc`` is ``ref`` (a ``(platform or None, account_id)`` reference)."""
    return ref[1] == acc[1] and (ref[0] is None or ref[0] == acc[0])
