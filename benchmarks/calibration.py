"""Calibration of every detector on shuffled data (issue 12, item 2).

Each workspace is shuffled with :func:`lockstep.calibration.shuffle_workspace` (times within
each account, values across accounts: coordination broken, activity and popularity kept) and
each signal is fitted on the copy (:func:`lockstep.calibration.calibrate`). Printed per signal:
the share of tested pairs with ``p <= 0.01`` over 0.01 (the ratio against the limit: valid
p-values give 1 or less), the same at 0.001, the pairs tested, and the significant pairs and
networks that ``detect`` finds with that signal alone at the default alpha (should be about
none). Then the networks of one ``detect`` run with every default signal.

Worlds:
(a) ``lockstep simulate --scale small --seed 11`` (the world the defaults were chosen on),
    every default signal;
(b) the German election data (real, public posts only): the co-action signals.

QQ plots go to ``docs/img/calibration-<world>.png`` (``--img-dir``).

Usage: ``python benchmarks/calibration.py [--seed 11] [--scale small] [--shuffle-seed 1]
[--no-german] [--dir bench-data/calibration]``
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

import lockstep
from lockstep.calibration import Calibration, calibrate, shuffle_workspace
from lockstep.detect import DEFAULT_SIGNALS, detect
from lockstep.simulate import simulate

GERMAN = Path("/work/shared/data/german-elections-2021/german_elections.csv")
COACTION = tuple(s for s in DEFAULT_SIGNALS if s.startswith("co-") and s != "co-creation")


def _workspace(base: Path, name: str, make) -> lockstep.Workspace:  # type: ignore[no-untyped-def]
    wsdir = base / f"ws-{name}"
    if not (wsdir / "lockstep.json").exists():
        shutil.rmtree(wsdir, ignore_errors=True)
        make(wsdir)
    return lockstep.open_workspace(wsdir)


def _run(ws: lockstep.Workspace, signals: tuple[str, ...], title: str
         ) -> tuple[list[Calibration], int]:
    print(f"\n== {title}")
    print(f"{'signal':15}{'tested':>14}{'output':>11}{'p<=0.01/0.01':>14}{'p<=0.001/0.001':>16}"
          f"{'sig. pairs':>11}{'networks':>9}{'s':>6}")
    out = []
    for sig in signals:
        c = calibrate(ws, sig, keep_pvalues=True)
        out.append(c)
        if c.tested == 0:
            print(f"{sig:15}{'no input':>14}")
            continue
        print(f"{sig:15}{c.tested:>14,}{c.output:>11,}{c.ratio_01:>14.2f}{c.ratio_001:>16.2f}"
              f"{c.significant_pairs:>11,}{c.networks:>9}{c.seconds:>6.1f}")
    run = detect(ws, signals=list(signals), save=False, assess=False)
    print(f"detect with all {len(signals)} signals on the shuffled data: {run.n_networks} "
          f"networks, {sum(v.get('significant_pairs', 0) for v in run.params['detectors'].values()):,}"
          f" significant pairs (ratio limit 1: share(p<=0.01) <= 0.01; tests allow 2)")
    return out, run.n_networks


def _qq_plot(cals: list[Calibration], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5.5))
    top = 1.0
    for c in cals:
        if c.tested == 0 or c.pvalues is None:
            continue
        p = np.sort(c.pvalues)
        m = c.tested
        # ranks on a log grid (the untested pairs are p = 1 at the top ranks)
        ranks = np.unique(np.round(np.logspace(0, math.log10(m), 300)).astype(np.int64))
        obs = np.where(ranks <= len(p), p[np.minimum(ranks, max(len(p), 1)) - 1]
                       if len(p) else 1.0, 1.0)
        exp = ranks / (m + 1.0)
        x, y = -np.log10(exp), -np.log10(np.maximum(obs, 1e-300))
        top = max(top, float(x.max()))
        ax.plot(x, np.minimum(y, 3 * x.max() + 5), lw=1.4, label=f"{c.signal} ({c.ratio_01:.2f})")
    ax.plot([0, top], [0, top], "k--", lw=1, label="uniform")
    ax.set_xlabel("expected -log10 p (uniform over the pairs tested)")
    ax.set_ylabel("observed -log10 p")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, title="signal (share p<=0.01 / 0.01)", title_fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"QQ plot: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--shuffle-seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=Path("bench-data/calibration"))
    ap.add_argument("--img-dir", type=Path, default=Path("docs/img"))
    ap.add_argument("--no-german", action="store_true")
    ap.add_argument("--signals", help="comma-separated (default: every default signal)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    signals = tuple(args.signals.split(",")) if args.signals else DEFAULT_SIGNALS
    results: dict[str, object] = {}

    name = f"{args.scale}-{args.seed}"

    def make_world(wsdir: Path) -> None:
        world = args.dir / f"world-{name}"
        if not (world / "events.parquet").exists():
            shutil.rmtree(world, ignore_errors=True)
            simulate(world, scale=args.scale, seed=args.seed)
        lockstep.ingest(lockstep.open_workspace(wsdir), [world], fmt="generic")

    t = time.perf_counter()
    ws = _workspace(args.dir, name, make_world)
    sh = shuffle_workspace(ws, args.dir / f"shuffled-{name}", seed=args.shuffle_seed,
                           overwrite=True)
    print(f"shuffled the {args.scale} world of seed {args.seed} in "
          f"{time.perf_counter() - t:.1f} s (shuffle seed {args.shuffle_seed})")
    cals, nets = _run(sh, signals, f"shuffled {args.scale} world, seed {args.seed}")
    _qq_plot(cals, args.img_dir / f"calibration-{name}.png",
             f"Shuffled simulated world ({args.scale}, seed {args.seed}): p-values of pairs")
    results[name] = {"signals": [c.to_dict() for c in cals], "networks_all": nets}

    if not args.no_german and GERMAN.exists():
        def make_german(wsdir: Path) -> None:
            lockstep.ingest(lockstep.open_workspace(wsdir), [GERMAN])

        gws = _workspace(args.dir, "german", make_german)
        gsh = shuffle_workspace(gws, args.dir / "shuffled-german", seed=args.shuffle_seed,
                                overwrite=True)
        co = tuple(s for s in signals if s in COACTION)
        gcals, gnets = _run(gsh, co, "shuffled German election data (public posts: co-action)")
        _qq_plot(gcals, args.img_dir / "calibration-german.png",
                 "Shuffled German election data 2021: p-values of pairs")
        results["german"] = {"signals": [c.to_dict() for c in gcals], "networks_all": gnets}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
