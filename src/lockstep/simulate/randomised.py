"""Build a randomised world: the standard generators with a population style drawn per seed,
plus the ordinary confounders the standard world lacks.

The random streams of the standard world are reused for the generators they drive (so the
planted networks draw as they do there); everything new draws from its own streams, spawned
from ``[seed, CONFOUNDER_SALT]``. See ``docs/worlds.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .access import expats, vpn_sessions
from .accounts import AccountRegistry
from .authentic import CommunitySpec, plant_authentic
from .cascades import generate_cascades
from .cib import plan_operations
from .cib_activity import operation_events
from .cib_infra import operation_sessions
from .config import FB, GROUP, PAGE, ScaleConfig
from .crowds import fan_bases, influencer_pods, live_events, memes
from .events import EventLog
from .infra import DeviceRegistry, IpAllocator
from .networks import NetworkRegistry, RoleLog
from .organic import generate_organic
from .orgs import agencies, social_desks
from .persons import add_twins, assign_bios, signup_bursts
from .population import build_population, ordinary_roles
from .sessions import SessionLog, ordinary_sessions
from .spam import plant_spam
from .style import PopulationStyle, draw_style
from .vocab import Vocabulary
from .world import World

__all__ = ["CONFOUNDER_SALT", "build_randomised"]

CONFOUNDER_SALT = 0xC0F0
Tick = Callable[[str, float], None]
#: Planted-network events subtracted from the target (as in the standard world).
_PLANTED_EVENTS = 60_000
#: Share of the target spent on fan bases, and at most on influencer pods.
_FAN_SHARE = 0.06
_POD_SHARE = 0.03


def _campaign_specs(style: PopulationStyle) -> tuple[CommunitySpec, ...]:
    """Campaigns as authentic communities (Facebook fan clubs gather in a group)."""
    return tuple(CommunitySpec(c.theme, c.platform, c.country, c.size,
                               GROUP if (c.theme == "fan club" and c.platform == FB) else PAGE,
                               c.participation, c.delay_s, c.link_p) for c in style.campaigns)


def build_randomised(cfg: ScaleConfig, seed: int, rngs: list[np.random.Generator],
                     tick: Tick) -> tuple[World, int, PopulationStyle, dict[str, Any]]:
    """Build (but do not write) a randomised world.

    Parameters
    ----------
    cfg : ScaleConfig
        Scale.
    seed : int
        Seed (the style and the confounders draw from streams derived from it).
    rngs : list of numpy.random.Generator
        The standard world's ten generator streams.
    tick : callable
        ``tick(stage, fraction)``.

    Returns
    -------
    world : World
        The finished world.
    n_cascades : int
        Viral cascades planted.
    style : PopulationStyle
        What was drawn.
    counts : dict
        How many of each confounder were made.
    """
    style = draw_style(seed, cfg)
    sub = [np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), CONFOUNDER_SALT]).spawn(16)]
    counts: dict[str, Any] = {}

    tick("population", 0.0)
    vocab = Vocabulary(rngs[0], n_articles=max(20_000, cfg.n_users // 4), n_images=max(5_000, cfg.n_users // 20))
    reg = AccountRegistry()
    pop = build_population(rngs[1], reg, vocab, cfg.n_users)
    assign_bios(sub[0], reg, pop, style)
    pop, person = add_twins(sub[1], reg, pop, style)
    counts["people"] = int(len(np.unique(person)))
    counts["person_accounts"] = int(len(pop.users))
    counts["twin_accounts"] = int(len(pop.users) - counts["people"])
    tick("population", 1.0)

    ccfg = replace(cfg, n_cascades=max(1, int(round(cfg.n_cascades * style.cascades_scale))),
                   cascade_size=(max(100, int(cfg.cascade_size[0] * style.cascade_size_scale)),
                                 max(200, int(cfg.cascade_size[1] * style.cascade_size_scale))))
    cascade_events = int(ccfg.n_cascades * sum(ccfg.cascade_size) / 2 * 1.7)
    n = len(pop.users)
    crowd_events = int((_FAN_SHARE + _POD_SHARE) * cfg.target_events
                       + style.live_events * style.live_share * n / 3 * 2.2
                       + style.meme_count * style.meme_share * n * 1.3)
    ordinary = max(cfg.target_events * 0.3, cfg.target_events - _PLANTED_EVENTS - cascade_events - crowd_events)
    log = EventLog()
    organic = generate_organic(rngs[2], pop, reg, vocab, log, int(ordinary - 0.55 * n))
    tick("ordinary events", 1.0)

    sessions, ips, devices, roles = SessionLog(), IpAllocator(), DeviceRegistry(), RoleLog()
    infra = ordinary_sessions(
        rngs[3], pop, ips, devices, sessions, organic.events_per_user,
        household_share=style.household_p, household_max=style.household_max,
        work_share=style.work_p, work_alpha=style.work_alpha, work_max=style.work_max,
        nat_subscribers=style.nat_subscribers, person=person)
    assert infra.household is not None and infra.workplace is not None
    counts.update(signup_bursts(sub[2], reg, pop, infra.household, infra.workplace, style))
    ordinary_roles(rngs[4], pop, reg, roles)
    tick("sessions", 1.0)
    w = World(cfg, reg, vocab, log, sessions, roles, NetworkRegistry(), ips, devices, pop, organic, infra)
    counts["households"] = int(len(np.unique(infra.household[infra.household >= 0])))
    counts["workplaces"] = int(len(np.unique(infra.workplace[infra.workplace >= 0])))

    counts["cascades"] = len(generate_cascades(rngs[5], ccfg, pop, reg, vocab, log))
    counts.update(fan_bases(sub[3], w, style, int(_FAN_SHARE * cfg.target_events)))
    counts.update(live_events(sub[4], w, style))
    counts.update(memes(sub[5], w, style))
    counts.update(influencer_pods(sub[6], w, style, int(_POD_SHARE * cfg.target_events)))
    counts.update(vpn_sessions(sub[7], w, style))
    counts.update(expats(sub[8], w, style))
    counts.update(agencies(sub[9], w, style))
    tick("cascades", 1.0)
    plant_authentic(rngs[6], w, _campaign_specs(style))
    counts.update(social_desks(sub[10], w, style))
    tick("authentic communities", 1.0)
    cib = style.cib
    ops = plan_operations(rngs[7], w, tiers=cib.tiers(),
                          ops_per_tier={t: cib.ops_per_tier[t - 1] for t in (1, 2, 3)})
    for i, op in enumerate(ops):
        per_fake = operation_events(op.rng, w, op)
        operation_sessions(op.rng, w, op, per_fake)
        tick("cib operations", (i + 1) / len(ops))
    plant_spam(rngs[8], w, plan=tuple((s.origin, s.platform, s.host) for s in style.spam),
               styles=tuple(s.style for s in style.spam))
    tick("spam networks", 1.0)
    return w, counts["cascades"], style, counts
