"""Where CIB operations log in from: work devices, office addresses, VPNs, proxies, slips.

Tier 1 runs all fakes from one or two phones per operator behind the office address. Tier 2
spreads them over more devices and commercial VPN exits. Tier 3 gives each fake its own
(anti-detect) browser profile and routes it through residential proxies in the target country,
which are ordinary people's home addresses, so they collide with real users.

A **slip** is a session of an operator's own account that uses a device or an address that the
operation's fakes use: the link investigators describe ("we see someone operating one of these
fake accounts, and then they log into their own account"). Slips are frequent in tier 1, occasional
in tier 2 and rare (at most one, often none) in tier 3.
"""

from __future__ import annotations

import numpy as np

from .cib import Operation
from .cib_activity import schedule
from .config import IG
from .geo import country_index
from .infra import DESKTOP
from .rhythm import local_times
from .world import World

__all__ = ["operation_sessions"]


def _work_devices(rng: np.random.Generator, w: World, op: Operation) -> tuple[np.ndarray, np.ndarray]:
    """Per fake: its main device, and the pool of devices its operator uses."""
    tp = op.params
    n_f = len(op.fakes)
    if tp.devices_per_operator[1] == 0:
        own = w.devices.add(DESKTOP, n_f)
        return own, own
    per = rng.integers(tp.devices_per_operator[0], tp.devices_per_operator[1] + 1, len(op.operators))
    start = np.zeros(len(per) + 1, dtype=np.int64)
    np.cumsum(per, out=start[1:])
    devs = w.devices.phones(rng, int(start[-1]), ios_p=0.15)
    main = devs[start[op.fake_op] + rng.integers(0, per[op.fake_op])]
    return main, devs


def operation_sessions(rng: np.random.Generator, w: World, op: Operation, per_fake: np.ndarray) -> None:
    """Sessions of one operation's fakes and operators, slips included.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    w : World
        The world (receives the sessions).
    op : Operation
        The operation.
    per_fake : numpy.ndarray
        Events of each fake.
    """
    tp = op.params
    n_f = len(op.fakes)
    office = w.ips.take(op.origin, int(rng.integers(1, 3)))
    exit_country = country_index("NL") if rng.random() < 0.5 else op.target
    vpn = w.ips.take(exit_country, int(rng.integers(6, 16)), datacenter=True)
    homes = w.infra.home_ip[w.pop.country == op.target]
    main, pool = _work_devices(rng, w, op)

    n_s = 2 + rng.poisson(np.minimum(per_fake / 3.0, 30.0))
    f = np.repeat(np.arange(n_f), n_s)
    m = len(f)
    ts = schedule(rng, op, m)
    dev = main[f].copy()
    other = rng.random(m) < (0.3 if tp.devices_per_operator[1] else 0.05)
    dev[other] = pool[rng.integers(0, len(pool), int(other.sum()))]
    r = rng.random(m)
    ip = office[rng.integers(0, len(office), m)]
    country = np.full(m, op.origin, dtype=np.int64)
    mobile = r < 0.1
    nat = w.infra.carrier_pool[op.origin]
    ip[mobile] = nat[rng.integers(0, len(nat), int(mobile.sum()))]
    via_vpn = (r >= 0.1) & (r < 0.1 + tp.vpn_p)
    ip[via_vpn] = vpn[rng.integers(0, len(vpn), int(via_vpn.sum()))]
    country[via_vpn] = exit_country
    via_proxy = (rng.random(m) < tp.proxy_p) & (len(homes) > 0)
    if via_proxy.any():
        ip[via_proxy] = homes[rng.integers(0, len(homes), int(via_proxy.sum()))]
        country[via_proxy] = op.target
    w.sessions.add(op.fakes[f], ts, ip, dev, country)

    # Operators' Instagram accounts log in from the operator's own phone and home.
    if len(op.operators_ig):
        k = rng.integers(4, 11, len(op.operators_ig))
        j = np.repeat(np.arange(len(op.operators_ig)), k)
        pos = op.operator_pos[j]
        s_ts = local_times(rng, w.pop.offset[pos], w.pop.shift[pos])
        w.sessions.add(op.operators_ig[j], s_ts, w.infra.home_ip[pos], w.infra.phone[pos], op.origin)

    # Slips: an operator's own account on a device or address the fakes use.
    fake_plat = op.fake_platform[f]
    n_slips = 0
    slipping = 0
    for k in rng.permutation(len(op.operators)):
        if slipping >= tp.max_slipping_operators or rng.random() >= tp.slip_p:
            continue
        mine = np.flatnonzero(op.fake_op[f] == k)
        if len(mine) == 0:
            mine = np.arange(m)
        c = int(rng.integers(tp.slips[0], tp.slips[1] + 1))
        src = mine[rng.integers(0, len(mine), c)]
        on_ig = (fake_plat[src] == IG) & (len(op.operators_ig) > 0)
        acc = np.where(on_ig, op.operators_ig[k] if len(op.operators_ig) else -1, op.operators[k])
        mode = rng.integers(0, 3, c)  # 0 device only, 1 address only, 2 both
        own_pos = op.operator_pos[k]
        s_dev = np.where(mode == 1, w.infra.phone[own_pos], dev[src])
        s_ip = np.where(mode == 0, w.infra.home_ip[own_pos], ip[src])
        s_country = np.where(mode == 0, op.origin, country[src])
        w.sessions.add(acc, ts[src] + rng.integers(60, 3600, c), s_ip, s_dev, s_country)
        n_slips += c
        slipping += 1
    w.nets.nets[op.net].n_slips = n_slips
