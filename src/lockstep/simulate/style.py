"""The population style of a randomised world: rates and sizes of ordinary behaviour, drawn per seed.

The standard world has one population: ordinary people mostly without a bio, each on one
platform, rarely sharing a device. Rules tuned on it learn it. A randomised world draws, for
each seed, how common every ordinary behaviour that looks like coordination is (the list in
``shared/reference/confounders.md``): generic bios, one person's accounts on several platforms,
households, workplaces, carrier-grade NAT, commercial VPNs, memes, viral cascades, fan bases,
live events, authentic campaigns, newsroom desks, agencies, influencer pods, expats; and how
the planted spam and CIB networks behave. :func:`draw_style` draws one
:class:`PopulationStyle` from its own random stream, so nothing else in the world shifts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .config import FB, IG, PLATFORMS, ScaleConfig
from .spam import SpamStyle
from .tiers import TIERS, TierParams

__all__ = ["CampaignStyle", "CibStyle", "PopulationStyle", "SpamPlan", "draw_style", "style_dict"]

#: Salt of the style's random stream (independent of every generator's stream).
STYLE_SALT = 0x57E1E
#: Countries with ordinary users that campaigns, desks and spam may come from.
_PEOPLE = ("US", "GB", "DE", "BR", "IN", "PK", "NG", "PH")
_SPAM_ORIGINS = ("PH", "NG", "IN", "PK", "BR")
_HOSTS = ("SG", "NL", "US")
_THEMES = ("fan club", "activists", "party volunteers", "union", "newsroom")


@dataclass(frozen=True)
class SpamPlan:
    """One spam network of a randomised world.

    Attributes
    ----------
    origin, host : str
        Country of the spammers and of their cloud addresses.
    platform : int
        Platform code.
    style : SpamStyle
        Its behaviour.
    """

    origin: str
    platform: int
    host: str
    style: SpamStyle


@dataclass(frozen=True)
class CampaignStyle:
    """One authentic campaign (volunteers, activists, union members, fans answering calls).

    Attributes
    ----------
    theme : str
        ``fan club``, ``activists``, ``party volunteers``, ``union`` or ``newsroom``.
    platform : int
        Platform code.
    country : str
        Where the members live.
    size : tuple[int, int]
        Member count range.
    participation : float
        Mean share of calls a member answers.
    delay_s : float
        Median reaction delay.
    link_p : float
        Share of calls with a link.
    """

    theme: str
    platform: int
    country: str
    size: tuple[int, int]
    participation: float
    delay_s: float
    link_p: float


@dataclass(frozen=True)
class CibStyle:
    """How the planted CIB operations of a randomised world look.

    Attributes
    ----------
    ops_per_tier : tuple[int, int, int]
        Operations of tiers 1, 2 and 3.
    asset_scale : tuple[float, float, float]
        Multiplier on each tier's asset range.
    operators : tuple[tuple[int, int], ...]
        Operator count range per tier (with the assets, how many fakes each runs).
    fake_bio_p : tuple[float, float, float]
        Share of fakes with a bio, per tier.
    """

    ops_per_tier: tuple[int, int, int]
    asset_scale: tuple[float, float, float]
    operators: tuple[tuple[int, int], ...]
    fake_bio_p: tuple[float, float, float]

    def tiers(self) -> dict[int, TierParams]:
        """The tier parameters with this style applied."""
        out = {}
        for t in (1, 2, 3):
            tp, s = TIERS[t], self.asset_scale[t - 1]
            lo, hi = max(10, int(tp.assets[0] * s)), max(12, int(tp.assets[1] * s))
            out[t] = replace(tp, assets=(lo, max(lo + 1, hi)), operators=self.operators[t - 1],
                             fake_bio_p=self.fake_bio_p[t - 1])
        return out


@dataclass(frozen=True)
class PopulationStyle:
    """Everything a randomised world draws for its seed (ranges in :func:`draw_style`).

    Shares are of ordinary people unless said otherwise; counts marked *per 100k* scale with
    the population.
    """

    seed: int
    # profiles
    bio_p: float
    bio_templates: int
    bio_zipf: float
    handle_styles: int
    # one person, several platforms
    twin_p: float
    twin_x_p: float
    twin_same_bio_p: float
    twin_same_handle_p: float
    # shared places and addresses
    household_p: float
    household_max: int
    kids_signup_p: float
    work_p: float
    work_alpha: float
    work_max: int
    class_signup_p: float
    nat_subscribers: int
    vpn_p: float
    vpn_exits: int
    vpn_session_p: float
    expat_p: float
    # crowds
    meme_count: int
    meme_share: float
    cascades_scale: float
    cascade_size_scale: float
    fan_page_share: float
    fan_p: float
    fan_answer_p: float
    fan_delay_s: float
    live_events: int
    live_share: float
    pods_per_100k: float
    pod_size: tuple[int, int]
    pod_answer_p: float
    # organisations
    campaigns: tuple[CampaignStyle, ...]
    desks: int
    desk_pages: tuple[int, int]
    agencies_per_100k: float
    agency_clients: tuple[int, int]
    # planted networks
    spam: tuple[SpamPlan, ...]
    cib: CibStyle


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def _i(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer in ``[lo, hi]``."""
    return int(rng.integers(lo, hi + 1))


def _campaigns(rng: np.random.Generator, cfg: ScaleConfig) -> tuple[CampaignStyle, ...]:
    out = []
    grow = min(4.0, max(1.0, cfg.n_users / 40_000))
    for _ in range(_i(rng, 3, 12)):
        theme = _THEMES[int(rng.integers(len(_THEMES)))]
        lo = int(rng.integers(20, 120) * grow) if theme != "newsroom" else int(rng.integers(10, 25))
        hi = lo + (int(rng.integers(20, 250) * grow) if theme != "newsroom" else int(rng.integers(5, 30)))
        out.append(CampaignStyle(
            theme=theme, platform=FB if rng.random() < 0.65 else IG,
            country=_PEOPLE[int(rng.integers(len(_PEOPLE)))], size=(lo, hi),
            participation=_u(rng, 0.15, 0.45), delay_s=_u(rng, 300, 3600, 0),
            link_p=1.0 if theme == "newsroom" else _u(rng, 0.0, 0.8)))
    return tuple(out)


def _spam(rng: np.random.Generator) -> tuple[SpamPlan, ...]:
    out = []
    for _ in range(_i(rng, 2, 8)):
        lo = _i(rng, 20, 120)
        style = SpamStyle(
            size=(lo, lo + _i(rng, 10, 150)), bio_p=0.0 if rng.random() < 0.4 else _u(rng, 0.1, 0.9),
            link_p=_u(rng, 0.4, 1.0), burst_p=_u(rng, 0.2, 0.9),
            created_span_h=(1, _i(rng, 2, 24 * 20)), group_p=_u(rng, 0.2, 0.95))
        out.append(SpamPlan(_SPAM_ORIGINS[int(rng.integers(len(_SPAM_ORIGINS)))],
                            FB if rng.random() < 0.7 else IG, _HOSTS[int(rng.integers(len(_HOSTS)))],
                            style))
    return tuple(out)


def _cib(rng: np.random.Generator) -> CibStyle:
    ops = (_i(rng, 1, 6), _i(rng, 1, 6), _i(rng, 1, 6))
    scale = (_u(rng, 0.4, 2.0), _u(rng, 0.4, 2.0), _u(rng, 0.4, 2.0))
    operators = []
    for t in (1, 2, 3):
        lo = _i(rng, 1, 4 if t == 1 else 3)
        operators.append((lo, lo + _i(rng, 0, 4)))
    bio = tuple(_u(rng, 0.0, 0.9) for _ in range(3))
    return CibStyle(ops, scale, tuple(operators), bio)  # type: ignore[arg-type]


def draw_style(seed: int, cfg: ScaleConfig) -> PopulationStyle:
    """Draw the population style of a seed.

    Parameters
    ----------
    seed : int
        The world's seed; the style comes from its own stream (``[seed, STYLE_SALT]``).
    cfg : ScaleConfig
        Scale (campaign sizes grow with the population).

    Returns
    -------
    PopulationStyle
        The drawn style.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STYLE_SALT]))
    return PopulationStyle(
        seed=int(seed),
        bio_p=_u(rng, 0.2, 0.9), bio_templates=_i(rng, 60, 400), bio_zipf=_u(rng, 1.0, 1.6),
        handle_styles=_i(rng, 2, 6),
        twin_p=_u(rng, 0.05, 0.4), twin_x_p=_u(rng, 0.05, 0.4),
        twin_same_bio_p=_u(rng, 0.3, 0.95), twin_same_handle_p=_u(rng, 0.2, 0.9),
        household_p=_u(rng, 0.08, 0.35), household_max=_i(rng, 3, 5),
        kids_signup_p=_u(rng, 0.1, 0.6),
        work_p=_u(rng, 0.1, 0.4), work_alpha=_u(rng, 0.8, 1.6), work_max=_i(rng, 100, 800),
        class_signup_p=_u(rng, 0.05, 0.4), nat_subscribers=_i(rng, 150, 3000),
        vpn_p=_u(rng, 0.02, 0.15), vpn_exits=_i(rng, 8, 80), vpn_session_p=_u(rng, 0.2, 0.8),
        expat_p=_u(rng, 0.01, 0.08),
        meme_count=_i(rng, 5, 40), meme_share=_u(rng, 0.002, 0.03, 4),
        cascades_scale=_u(rng, 0.5, 2.0), cascade_size_scale=_u(rng, 0.5, 1.5),
        fan_page_share=_u(rng, 0.05, 0.3), fan_p=_u(rng, 0.05, 0.3),
        fan_answer_p=_u(rng, 0.05, 0.4), fan_delay_s=_u(rng, 60, 1800, 0),
        live_events=_i(rng, 2, 12), live_share=_u(rng, 0.02, 0.1),
        pods_per_100k=_u(rng, 5, 60, 1), pod_size=(_i(rng, 6, 12), _i(rng, 15, 40)),
        pod_answer_p=_u(rng, 0.4, 0.9),
        campaigns=_campaigns(rng, cfg), desks=_i(rng, 1, 6), desk_pages=(_i(rng, 3, 6), _i(rng, 8, 25)),
        agencies_per_100k=_u(rng, 5, 50, 1), agency_clients=(_i(rng, 4, 8), _i(rng, 10, 40)),
        spam=_spam(rng), cib=_cib(rng),
    )


def style_dict(style: PopulationStyle) -> dict[str, Any]:
    """The style as JSON-ready values (platforms by name)."""
    d = asdict(style)
    for c in d["campaigns"]:
        c["platform"] = PLATFORMS[c["platform"]]
    for s in d["spam"]:
        s["platform"] = PLATFORMS[s["platform"]]
    return d
