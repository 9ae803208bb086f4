"""Attribution: from coordinated networks to the findings a takedown rests on.

One module per question, all behavioural (post content is never read):

- :mod:`.behaviour`: who a network's accounts are (ages, creation bursts, persona reuse,
  shared devices) and how they act (link pushing, groups posted into).
- :mod:`.operators`: :func:`link_operators`, the person accounts that run the assets, from
  sessions and page roles, with the evidence and a confidence level.
- :mod:`.location`: :func:`locate_networks`, where a network runs from, where it presents
  itself as from, its working time zone, and any mismatch.
- :mod:`.verdict`: :func:`decide`, ``cib``, ``spam``, ``authentic`` or ``undetermined``, with
  reasons.
- :mod:`.assess`: :func:`assess` runs them all over a detection run and builds each network's
  asset inventory; :func:`save_assessment` / :func:`load_assessment` store it with the run.
"""
from __future__ import annotations

from lockstep.attribution.assess import (
    Assessment,
    assess,
    load_assessment,
    save_assessment,
)
from lockstep.attribution.behaviour import network_behaviour
from lockstep.attribution.location import locate_networks
from lockstep.attribution.operators import (
    NO_TELEMETRY,
    OperatorLinks,
    extract_employer,
    link_operators,
)
from lockstep.attribution.verdict import VERDICTS, decide

__all__ = ["Assessment", "assess", "save_assessment", "load_assessment", "network_behaviour",
           "OperatorLinks", "link_operators", "extract_employer", "NO_TELEMETRY",
           "locate_networks", "decide", "VERDICTS"]
