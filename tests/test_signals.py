"""The signal registry: every signal described, listed by `lockstep signals`, defaults known."""
from __future__ import annotations

from typer.testing import CliRunner

from lockstep.cli import app
from lockstep.detect import DEFAULT_SIGNALS
from lockstep.detectors import DESCRIPTIONS, REGISTRY, get_detector


def test_every_signal_is_described_and_builds() -> None:
    assert set(DESCRIPTIONS) == set(REGISTRY)
    assert set(DEFAULT_SIGNALS) <= set(REGISTRY)
    for name in REGISTRY:
        det = get_detector(name)
        assert det._signal_name() == name


def test_cli_lists_signals(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "160")
    got = CliRunner().invoke(app, ["signals"])
    assert got.exit_code == 0, got.output
    for name in REGISTRY:
        assert name in got.output
