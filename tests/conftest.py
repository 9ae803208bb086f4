"""Shared fixtures: a fresh workspace, small generic datasets, and the shared data path."""
from __future__ import annotations

from pathlib import Path

import pytest

from lockstep.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GERMAN = SHARED / "data" / "german-elections-2021" / "german_elections.csv"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace holding :func:`lockstep.testing.make_campaign` (seed 0), one per module."""
    from lockstep.ingestion import ingest
    from lockstep.testing import make_campaign

    tmp = tmp_path_factory.mktemp("campaign")
    ws = Workspace.open(tmp / "ws")
    ingest(ws, [make_campaign(tmp, seed=0)])
    return ws


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def snapshot(ws_path: Path) -> dict[str, bytes]:
    """Every file of a workspace (minus the lock) with its bytes."""
    return {p.relative_to(ws_path).as_posix(): p.read_bytes() for p in sorted(ws_path.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz", action="store_true", default=False,
                     help="run the reader fuzzer (tests/test_fuzz.py) 20 times longer, with "
                          "fresh random cases instead of the reproducible default ones")


@pytest.fixture(scope="session")
def fuzz_scale(request: pytest.FixtureRequest) -> tuple[int, bool]:
    """``(multiplier of max_examples, derandomize)`` for the fuzz tests: ``(1, True)`` by
    default (bounded and reproducible for CI), ``(20, False)`` under ``--fuzz``."""
    return (20, False) if request.config.getoption("--fuzz") else (1, True)
