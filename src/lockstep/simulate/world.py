"""The shared state every generator reads and writes while a world is being built."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .accounts import AccountRegistry
from .config import START, ScaleConfig
from .events import EventLog
from .infra import DeviceRegistry, IpAllocator
from .networks import NetworkRegistry, RoleLog
from .organic import OrganicResult
from .population import YEAR, Population
from .sampling import weighted_sample
from .sessions import PersonalInfra, SessionLog
from .vocab import Vocabulary

__all__ = ["World"]


@dataclass
class World:
    """Registries, logs and the ordinary world that planted networks are woven into.

    Attributes
    ----------
    cfg : ScaleConfig
        Scale preset.
    reg : AccountRegistry
        All accounts.
    vocab : Vocabulary
        Content vocabularies.
    log : EventLog
        All events.
    sessions : SessionLog
        All sessions.
    roles : RoleLog
        Page and group roles.
    nets : NetworkRegistry
        Planted networks (ground truth).
    ips : IpAllocator
        Address source.
    devices : DeviceRegistry
        Device source.
    pop : Population
        Ordinary people, pages and groups.
    organic : OrganicResult
        Ordinary post pools.
    infra : PersonalInfra
        Ordinary people's devices and addresses.
    taken : numpy.ndarray
        Ordinary people already recruited into a planted network (aligned with
        ``pop.users``), so nobody is in two.
    """

    cfg: ScaleConfig
    reg: AccountRegistry
    vocab: Vocabulary
    log: EventLog
    sessions: SessionLog
    roles: RoleLog
    nets: NetworkRegistry
    ips: IpAllocator
    devices: DeviceRegistry
    pop: Population
    organic: OrganicResult
    infra: PersonalInfra
    taken: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def recruit(
        self, rng: np.random.Generator, platform: int, country: int, k: int,
        min_age_years: float, weight_power: float = 0.3,
    ) -> np.ndarray:
        """Pick up to ``k`` ordinary people not yet in any network.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        platform, country : int
            Where they must be.
        k : int
            How many.
        min_age_years : float
            Minimum account age.
        weight_power : float, optional
            More active people are likelier (``activity ** weight_power``).

        Returns
        -------
        numpy.ndarray
            Positions into ``pop.users`` (now marked as taken).
        """
        if len(self.taken) != len(self.pop.users):
            self.taken = np.zeros(len(self.pop.users), dtype=bool)
        cand = self.pop.candidates(platform, country, int(START - min_age_years * YEAR))
        cand = cand[~self.taken[cand]]
        # A child generator: ``rng`` advances by one draw whatever the population size, so a
        # network's other parameters are the same at every scale.
        sub = np.random.default_rng(int(rng.integers(0, 2**63)))
        pos = cand[weighted_sample(sub, self.pop.activity[cand] ** weight_power, k)]
        self.taken[pos] = True
        return pos

