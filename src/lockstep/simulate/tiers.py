"""Sophistication tiers of CIB operations, as parameter tables.

Tier 1 (crude): many assets created in one or two bursts, one handle pattern and a handful of
reused bios, near-identical posts pushed within minutes by many fakes in office hours, little
camouflage, a few devices shared by everyone and frequent operator slips.

Tier 2 (medium): several creation bursts, some persona variety, delays of tens of minutes, a
mix of office addresses and commercial VPN exits, occasional slips.

Tier 3 (sophisticated): aged accounts, diverse personas, posting on the target's schedule,
hours of jitter and few co-actions, mostly camouflage, one device per fake, residential proxies
in the target country, and at most one slip.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TIERS", "TierParams"]


@dataclass(frozen=True)
class TierParams:
    """Parameters of one tier.

    Attributes
    ----------
    assets : tuple[int, int]
        Range of total assets (operators, fakes, pages, groups).
    operators : tuple[int, int]
        Range of operator count.
    page_share, group_share : float
        Shares of assets that are pages and groups.
    ig_share : float
        Share of fakes and pages on Instagram (for operations that use it).
    bursts : tuple[int, int]
        Number of account-creation bursts.
    burst_span_h : float
        Length of one creation burst (hours).
    created_days_ago : tuple[float, float]
        When the bursts happened, in days before the period.
    old_page_p : float
        Share of pages that are old (bought or repurposed).
    handle_styles : int
        Handle patterns the fakes use.
    bio_pool : int
        Reused persona bios (0: ordinary, varied bios).
    claimed_p : float
        Share of fakes stating the target as their country.
    followers_log : float
        Log-mean of fakes' follower counts.
    employer_bio_p : float
        Share of operators whose bio names the employer.
    fake_admin_p : float
        Share of pages and groups administered through a fake instead of an operator.
    page_rate : float
        Posts per page per day.
    amplifiers : tuple[int, int]
        Fakes amplifying each page post.
    delay_s, delay_sigma : float
        Lognormal reaction delay (median seconds, shape).
    copy_p : float
        Share of amplifications that re-post the link with copied text.
    template_p : float
        Share of fakes' own posts built from the operation's text templates.
    own_posts : tuple[int, int]
        Own posts per fake over the period.
    camo : float
        Share of a fake's events that are camouflage on popular organic content.
    spill : float
        Share of activity outside office hours.
    local_schedule : bool
        Post on the target's daily rhythm instead of office hours.
    venue_p : float
        Share of posts placed into groups.
    tag_p : float
        Share of posts with a campaign hashtag.
    operator_shares : tuple[int, int]
        Page posts an operator re-shares from their own account.
    devices_per_operator : tuple[int, int]
        Work devices per operator (0: one device per fake instead).
    vpn_p : float
        Share of fake sessions through VPN exits.
    proxy_p : float
        Share of fake sessions through residential proxies in the target country.
    slip_p : float
        Chance that an operator slips at all.
    slips : tuple[int, int]
        Slip sessions of an operator who slips.
    max_slipping_operators : int
        Most operators who slip.
    fake_bio_p : float or None
        Share of fakes with a bio (``None``: 0.8 with a persona pool, else 0.35).
    """

    assets: tuple[int, int]
    operators: tuple[int, int]
    page_share: float
    group_share: float
    ig_share: float
    bursts: tuple[int, int]
    burst_span_h: float
    created_days_ago: tuple[float, float]
    old_page_p: float
    handle_styles: int
    bio_pool: int
    claimed_p: float
    followers_log: float
    employer_bio_p: float
    fake_admin_p: float
    page_rate: float
    amplifiers: tuple[int, int]
    delay_s: float
    delay_sigma: float
    copy_p: float
    template_p: float
    own_posts: tuple[int, int]
    camo: float
    spill: float
    local_schedule: bool
    venue_p: float
    tag_p: float
    operator_shares: tuple[int, int]
    devices_per_operator: tuple[int, int]
    vpn_p: float
    proxy_p: float
    slip_p: float
    slips: tuple[int, int]
    max_slipping_operators: int
    fake_bio_p: float | None = None


TIERS: dict[int, TierParams] = {
    1: TierParams(
        assets=(50, 150), operators=(2, 6), page_share=0.15, group_share=0.06, ig_share=0.25,
        bursts=(1, 2), burst_span_h=6.0, created_days_ago=(20, 120), old_page_p=0.0,
        handle_styles=1, bio_pool=3, claimed_p=0.5, followers_log=3.5, employer_bio_p=0.6,
        fake_admin_p=0.0, page_rate=0.7, amplifiers=(4, 10), delay_s=180.0, delay_sigma=0.8,
        copy_p=0.35, template_p=0.8, own_posts=(6, 15), camo=0.12, spill=0.05,
        local_schedule=False, venue_p=0.4, tag_p=0.8, operator_shares=(3, 10),
        devices_per_operator=(1, 2), vpn_p=0.0, proxy_p=0.0, slip_p=1.0, slips=(2, 5),
        max_slipping_operators=6,
    ),
    2: TierParams(
        assets=(30, 100), operators=(1, 4), page_share=0.15, group_share=0.05, ig_share=0.3,
        bursts=(2, 4), burst_span_h=48.0, created_days_ago=(60, 400), old_page_p=0.2,
        handle_styles=2, bio_pool=8, claimed_p=0.3, followers_log=4.3, employer_bio_p=0.4,
        fake_admin_p=0.15, page_rate=0.8, amplifiers=(3, 8), delay_s=900.0, delay_sigma=1.0,
        copy_p=0.2, template_p=0.45, own_posts=(5, 14), camo=0.35, spill=0.2,
        local_schedule=False, venue_p=0.25, tag_p=0.6, operator_shares=(0, 3),
        devices_per_operator=(3, 6), vpn_p=0.6, proxy_p=0.0, slip_p=0.6, slips=(1, 2),
        max_slipping_operators=4,
    ),
    3: TierParams(
        assets=(15, 70), operators=(1, 3), page_share=0.2, group_share=0.03, ig_share=0.35,
        bursts=(3, 6), burst_span_h=168.0, created_days_ago=(300, 1500), old_page_p=0.6,
        handle_styles=6, bio_pool=0, claimed_p=0.1, followers_log=5.0, employer_bio_p=0.15,
        fake_admin_p=0.5, page_rate=0.5, amplifiers=(1, 4), delay_s=3 * 3600.0, delay_sigma=1.4,
        copy_p=0.05, template_p=0.1, own_posts=(3, 10), camo=0.65, spill=0.4,
        local_schedule=True, venue_p=0.1, tag_p=0.3, operator_shares=(0, 0),
        devices_per_operator=(0, 0), vpn_p=0.1, proxy_p=0.85, slip_p=0.5, slips=(1, 1),
        max_slipping_operators=1,
    ),
}
