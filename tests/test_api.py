"""The Python API a notebook uses: `import lockstep` and go."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import write


def test_ingest_stays_a_function_after_submodules_load(tmp_path: Path) -> None:
    import lockstep.ingestion  # noqa: F401
    import lockstep.readers.generic  # noqa: F401

    f = write(tmp_path / "events.csv", "platform,event_id,account_id,timestamp\nx,1,a,1623881091\n")
    ws = lockstep.open_workspace(tmp_path / "ws")
    assert lockstep.ingest(ws, [f]).rows_added == 1
    assert lockstep.ingest(ws, [f]).rows_added == 0
    st = lockstep.workspace_stats(ws)
    assert st.tables["events"] == {"x": 1}


def test_import_is_light() -> None:
    code = "import sys, lockstep; print(sorted(m for m in ('duckdb', 'pyarrow', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
