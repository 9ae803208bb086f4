"""A synthetic social-media world with planted coordination and its ground truth.

:func:`simulate` builds a month (from 2026-03-01T00:00:00Z) of activity on ``facebook``,
``instagram`` and ``x`` and writes it in Lockstep's generic input format (version 1):

* ordinary people with heavy-tailed activity, daily rhythms in their own time zones, links
  written in many spellings, hashtags, images, re-shares, comments, replies, groups;
* viral cascades (thousands of re-shares of one post, of one link, of one hashtag in hours);
* shared infrastructure (carrier-grade NAT addresses behind thousands of accounts, family
  tablets, offices, travel);
* authentic communities that coordinate openly (fan clubs, activists, volunteers of opposing
  parties, a newsroom);
* CIB operations in three sophistication tiers (operators, fakes, pages and groups posing as
  local outlets, amplification, camouflage, shared devices and addresses, operator slips);
* spam networks.

Tables written into ``out`` (``.parquet`` or ``.csv``): ``events``, ``accounts``,
``sessions``, ``roles``, ``truth`` and the extra ``networks``, with exactly the columns of the
generic format plus these extension columns:

* ``truth.role`` (``operator``, ``fake``, ``page``, ``group``, ``member``, ``spam_bot``),
  ``truth.tier`` (1-3 for CIB, empty otherwise), ``truth.origin_country`` and
  ``truth.target_country`` (empty for spam targets);
* ``networks``: ``network_id``, ``network_kind``, ``tier``, ``name`` (CIB: the operators'
  employer), ``theme``, ``origin_country``, ``target_country``, ``platforms``, ``hashtags``,
  ``domains``, counts per role (``n_accounts``, ``n_operators`` (operator *accounts*: an
  operator with an Instagram account counts twice), ``n_fakes``, ``n_pages``, ``n_groups``,
  ``n_members``, ``n_spam_bots``), ``n_events`` and ``n_operator_slips`` (CIB only).

``truth`` lists planted accounts only (CIB operators, fakes, pages and groups; spam bots;
authentic community members and hubs); ordinary accounts, viral cascade participants included,
have no row. Detection code must never read ``truth`` or ``networks``. Pages and groups have no
``sessions`` (people log in, then act as their pages).

In Parquet, timestamps are UTC timestamp columns (whole seconds, stored by Parquet as
``timestamp[ms, tz=UTC]``) and multi-valued fields are
``list<string>`` (an empty list means none); in CSV, timestamps are ISO 8601 strings such as
``2026-03-01T08:15:00Z`` and multi-valued fields are whitespace-separated. Ids are strings
(decimal digits; event ids exceed 2**53). The same seed gives byte-identical files.

``population="randomised"`` builds a second kind of world in which every seed draws its own
population style (:mod:`.style`): generic bios held by thousands, one person's accounts on
several platforms sharing their own devices, households, workplaces and class sign-ups, NAT
pools, commercial VPN exits, expats, memes, cascades, fan bases, live events, influencer pods,
agencies, authentic campaigns, newsroom social desks, and varied spam and CIB styles
(:mod:`.randomised`; ``docs/worlds.md``). It also writes ``population.json`` (what was drawn).

Scales: ``small`` (~200k events, 20k people), ``medium`` (~2M, 200k), ``large`` (~10M, 1M),
plus ``tiny`` (~80k events, 4k people; the planted networks dominate it) for quick
experiments. For a given seed the planted networks are the same at every scale (same sizes,
parameters and nearly the same events); only the ordinary world around them grows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .accounts import AccountRegistry
from .authentic import plant_authentic
from .cascades import generate_cascades
from .cib import plan_operations
from .cib_activity import operation_events
from .cib_infra import operation_sessions
from .config import SCALES, get_scale
from .events import EventLog
from .export import write_world
from .infra import DeviceRegistry, IpAllocator
from .networks import NetworkRegistry, RoleLog
from .organic import generate_organic
from .population import build_population, ordinary_roles
from .randomised import build_randomised
from .sessions import SessionLog, ordinary_sessions
from .spam import plant_spam
from .style import PopulationStyle, draw_style, style_dict
from .summary import SimulationSummary, summarize
from .vocab import Vocabulary
from .world import World
from .writer import FORMATS

__all__ = ["FORMATS", "POPULATIONS", "SCALES", "PopulationStyle", "SimulationSummary", "draw_style",
           "simulate"]

#: Kinds of population: the standard one, or one drawn per seed (see ``docs/worlds.md``).
POPULATIONS = ("standard", "randomised")

Progress = Callable[[str, float], None]

#: Stages and their share of the progress bar.
_STAGES: tuple[tuple[str, float], ...] = (
    ("population", 0.03), ("ordinary events", 0.14), ("sessions", 0.07), ("cascades", 0.02),
    ("authentic communities", 0.02), ("cib operations", 0.03), ("spam networks", 0.01),
    ("sort events", 0.06), ("write events", 0.47), ("write accounts", 0.03),
    ("write sessions", 0.11), ("write truth", 0.01),
)
#: Planted and cascade events are subtracted from the target to size the ordinary activity.
_PLANTED_EVENTS = 60_000


class _Ticker:
    """Maps ``(stage, fraction of stage)`` to ``progress(stage, overall fraction)``."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.base: dict[str, float] = {}
        self.weight: dict[str, float] = {}
        acc = 0.0
        for name, wgt in _STAGES:
            self.base[name], self.weight[name] = acc, wgt
            acc += wgt
        self.last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        if self.progress is None:
            return
        value = min(1.0, max(self.last, self.base[stage] + self.weight[stage] * fraction))
        self.last = value
        self.progress(stage, value)


def _check_out(out: str | Path) -> Path:
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{path} exists and is not a directory")
        if any(path.iterdir()):
            raise ValueError(f"{path} exists and is not empty; choose a new directory")
    return path


def simulate(
    out: str | Path,
    *,
    scale: str = "small",
    seed: int = 0,
    fmt: str = "parquet",
    progress: Progress | None = None,
    population: str = "standard",
) -> SimulationSummary:
    """Simulate a world and write it as generic-v1 tables with ground truth.

    Parameters
    ----------
    out : str or pathlib.Path
        Output directory; created if missing, refused if it exists and is not empty.
    scale : str, optional
        ``"small"`` (~200k events), ``"medium"`` (~2M), ``"large"`` (~10M) or ``"tiny"``
        (~80k, for quick experiments).
    seed : int, optional
        Seed; the same seed gives byte-identical files.
    fmt : str, optional
        ``"parquet"`` or ``"csv"``.
    progress : callable, optional
        Called as ``progress(stage_name, fraction)`` with the overall fraction done (0 to 1,
        non-decreasing) as work goes.
    population : str, optional
        ``"standard"`` (the same population at every seed) or ``"randomised"``: every seed
        draws its own population style (bios, cross-platform twins, households, workplaces,
        NAT, VPNs, memes, cascades, fan bases, live events, campaigns, desks, agencies, pods,
        expats, spam and CIB styles), written to ``population.json``.

    Returns
    -------
    SimulationSummary
        Counts and the paths written.

    Raises
    ------
    ValueError
        For an unknown scale, format or population, a negative seed, or a non-empty output
        directory.

    Examples
    --------
    >>> s = simulate("/tmp/world", scale="small", seed=1)  # doctest: +SKIP
    >>> sorted(s.paths)  # doctest: +SKIP
    ['accounts', 'events', 'networks', 'roles', 'sessions', 'truth']
    """
    cfg = get_scale(scale)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {list(FORMATS)}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if population not in POPULATIONS:
        raise ValueError(f"unknown population {population!r}; choose one of {list(POPULATIONS)}")
    path = _check_out(out)
    started = time.perf_counter()
    tick = _Ticker(progress)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), 0x10C5]).spawn(10)]
    if population == "randomised":
        w, n_cascades, style, counts = build_randomised(cfg, int(seed), rngs, tick)
        return _finish(w, n_cascades, path, fmt, scale, int(seed), tick, started,
                       {"population": "randomised", "style": style_dict(style), "counts": counts})

    tick("population", 0.0)
    vocab = Vocabulary(rngs[0], n_articles=max(20_000, cfg.n_users // 4), n_images=max(5_000, cfg.n_users // 20))
    reg = AccountRegistry()
    pop = build_population(rngs[1], reg, vocab, cfg.n_users)
    tick("population", 1.0)

    log = EventLog()
    cascade_events = int(cfg.n_cascades * sum(cfg.cascade_size) / 2 * 1.7)
    ordinary = max(cfg.target_events * 0.3, cfg.target_events - _PLANTED_EVENTS - cascade_events)
    organic = generate_organic(rngs[2], pop, reg, vocab, log, int(ordinary - 0.55 * cfg.n_users))
    tick("ordinary events", 1.0)

    sessions, ips, devices, roles = SessionLog(), IpAllocator(), DeviceRegistry(), RoleLog()
    infra = ordinary_sessions(rngs[3], pop, ips, devices, sessions, organic.events_per_user)
    ordinary_roles(rngs[4], pop, reg, roles)
    tick("sessions", 1.0)
    w = World(cfg, reg, vocab, log, sessions, roles, NetworkRegistry(), ips, devices, pop, organic, infra)

    cascades = generate_cascades(rngs[5], cfg, pop, reg, vocab, log)
    tick("cascades", 1.0)
    plant_authentic(rngs[6], w)
    tick("authentic communities", 1.0)
    ops = plan_operations(rngs[7], w)
    for i, op in enumerate(ops):
        per_fake = operation_events(op.rng, w, op)
        operation_sessions(op.rng, w, op, per_fake)
        tick("cib operations", (i + 1) / len(ops))
    plant_spam(rngs[8], w)
    tick("spam networks", 1.0)
    return _finish(w, len(cascades), path, fmt, scale, int(seed), tick, started, None)


def _finish(w: World, n_cascades: int, path: Path, fmt: str, scale: str, seed: int, tick: _Ticker,
            started: float, population: dict | None) -> SimulationSummary:
    """Sort, write and summarise a built world (``population.json`` when one was drawn)."""
    ev, num, by_source = w.log.finalize()
    tick("sort events", 1.0)
    path.mkdir(parents=True, exist_ok=True)
    written = write_world(w, ev, num, fmt, path, tick)
    if population is not None:
        (path / "population.json").write_text(json.dumps(population, indent=1, default=int) + "\n")
    summary = summarize(w, ev, by_source, n_cascades, written, path, scale, seed, fmt)
    summary.elapsed_s = time.perf_counter() - started
    tick("write truth", 1.0)
    return summary
