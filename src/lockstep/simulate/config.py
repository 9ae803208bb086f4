"""Constants and scale presets for the synthetic world.

Everything the generators share lives here: the simulated period, the integer codes used for
platforms, actions and account kinds while the world is held as numpy arrays, and the
:class:`ScaleConfig` presets behind ``simulate(scale=...)``.

The planted networks (CIB operations, spam networks, authentic communities) follow the same
plan at every scale, so detection recall is comparable across scales; only the ordinary
population, the number of viral cascades and the infrastructure around them grow.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIONS",
    "DAY",
    "DAYS",
    "END",
    "KINDS",
    "PLATFORMS",
    "SCALES",
    "SPAN",
    "START",
    "START_ISO",
    "ScaleConfig",
    "action_code",
    "get_scale",
]

START_ISO = "2026-03-01T00:00:00Z"
#: UNIX seconds of :data:`START_ISO` (a Sunday).
START = 1_772_323_200
DAY = 86_400
DAYS = 30
SPAN = DAYS * DAY
END = START + SPAN
#: Weekday (Monday = 0) of the first simulated day.
START_WEEKDAY = 6

PLATFORMS: tuple[str, ...] = ("facebook", "instagram", "x")
FB, IG, X = 0, 1, 2

ACTIONS: tuple[str, ...] = (
    "post",
    "share",
    "repost",
    "quote",
    "reply",
    "comment",
    "react",
    "forward",
    "follow",
    "join",
)

KINDS: tuple[str, ...] = ("user", "page", "group")
USER, PAGE, GROUP = 0, 1, 2


def action_code(name: str) -> int:
    """Return the integer code of an action name.

    Parameters
    ----------
    name : str
        One of :data:`ACTIONS`.

    Returns
    -------
    int
        Its position in :data:`ACTIONS`.
    """
    return ACTIONS.index(name)


POST = action_code("post")
SHARE = action_code("share")
REPOST = action_code("repost")
QUOTE = action_code("quote")
REPLY = action_code("reply")
COMMENT = action_code("comment")
REACT = action_code("react")


@dataclass(frozen=True)
class ScaleConfig:
    """Size parameters of one scale preset.

    Attributes
    ----------
    name : str
        Preset name.
    target_events : int
        Approximate total number of events.
    n_users : int
        Ordinary person accounts (all platforms together).
    n_cascades : int
        Viral cascades (re-share, link and hashtag bursts).
    cascade_size : tuple[int, int]
        Range of participants per cascade.
    chunk_rows : int
        Rows rendered and written per chunk.
    """

    name: str
    target_events: int
    n_users: int
    n_cascades: int
    cascade_size: tuple[int, int]
    chunk_rows: int


SCALES: dict[str, ScaleConfig] = {
    # ``tiny`` exists for quick experiments; its planted networks are a large share of it.
    "tiny": ScaleConfig("tiny", 80_000, 4_000, 3, (300, 600), 100_000),
    "small": ScaleConfig("small", 200_000, 20_000, 6, (1_100, 2_500), 250_000),
    "medium": ScaleConfig("medium", 2_000_000, 200_000, 12, (2_000, 12_000), 500_000),
    "large": ScaleConfig("large", 10_000_000, 1_000_000, 24, (3_000, 40_000), 1_000_000),
}


def get_scale(name: str) -> ScaleConfig:
    """Look up a scale preset by name.

    Parameters
    ----------
    name : str
        ``"tiny"``, ``"small"``, ``"medium"`` or ``"large"``.

    Returns
    -------
    ScaleConfig
        The preset.

    Raises
    ------
    ValueError
        If the name is unknown.
    """
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}; choose one of {sorted(SCALES)}") from None
