"""Every registered detector keeps the detector contract (lockstep.testing.check_detector)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lockstep.detectors import BaseDetector, all_detectors
from lockstep.testing import check_detector, make_campaign
from lockstep.workspace import Workspace


@pytest.mark.parametrize("detector", all_detectors(), ids=lambda d: d._signal_name())
def test_detector_contract(detector: BaseDetector, campaign: Workspace) -> None:
    got = check_detector(detector, campaign, min_recall=0.8)
    assert got["recall"] is None or got["recall"] >= 0.8


def test_check_detector_catches_a_broken_detector(campaign: Workspace, tmp_path: Path) -> None:
    from lockstep.detectors import CoActionDetector

    class Unordered(CoActionDetector):
        def _pair_edges(self, con):  # type: ignore[no-untyped-def]
            table, stats = super()._pair_edges(con)
            return table.take(list(range(table.num_rows))[::-1]), stats

    with pytest.raises(AssertionError, match="ordered"):
        check_detector(Unordered(min_weight=3), campaign)

    class Sloppy(CoActionDetector):
        def __init__(self, *, window: float = 60) -> None:
            super().__init__(window=float(window))

    with pytest.raises(AssertionError, match="verbatim"):
        check_detector(Sloppy(window=60), campaign)

    def make_campaign_is_deterministic() -> None:
        a = make_campaign(tmp_path / "a", seed=4) / "events.csv"
        b = make_campaign(tmp_path / "b", seed=4) / "events.csv"
        assert a.read_bytes() == b.read_bytes()

    make_campaign_is_deterministic()
