"""What the CLI sends to a terminal: data as plain visible text, and Ctrl-C as one line."""
from __future__ import annotations

import io
import re
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from lockstep import cli
from lockstep.terminal import SHOW_LIMIT, line, show, visible
from lockstep.exceptions import BadInputError, Interrupted, RowError
from lockstep.testing import HOSTILE_STRINGS

ACTS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                  "\u2066-\u2069\ud800-\udfff]")


def render(*objects: object) -> str:
    buf = io.StringIO()
    c = Console(file=buf, width=3000, color_system=None, emoji=False)
    for o in objects:
        c.print(o)
    return buf.getvalue()


@pytest.mark.parametrize("h", [h for h in HOSTILE_STRINGS if len(h) < 1000], ids=repr)
def test_every_hostile_string_is_shown_plainly(h: str) -> None:
    v = visible(h, None)
    assert not ACTS.search(v)
    text = render(show(h, None), line(("verdict: ", "bold"), h, (h, "italic")))
    assert not ACTS.search(text.replace("\n", ""))
    assert v in text and v + v in text  # never read as markup: nothing hidden or restyled


def test_visible_escapes() -> None:
    assert visible("\x1b[31mred") == "\\x1b[31mred"
    assert visible("a\u202eb\u2066c\u200fd") == "a\\u202eb\\u2066c\\u200fd"
    assert visible("t\tn\nr\r") == "t\\tn\\nr\\r"
    assert visible("\x7f\x9b\ud800") == "\\x7f\\x9b\\ud800"
    assert visible("ü, 日本, emoji 🙂, ZWJ 👩‍💻") == "ü, 日本, emoji 🙂, ZWJ 👩‍💻"  # text stays text
    assert visible(None) == "" and visible(3) == "3"


def test_markup_in_data_is_text_wherever_it_stands() -> None:
    # a trailing backslash would escape the next tag, a lone "[" pair with a later "]"
    assert render(line(("x\\", "bold"), "[/bold] tail")).strip() == "x\\[/bold] tail"
    assert render(line("[b", "]old")).strip() == "[b]old"
    assert render(line("[link=http://evil.example]click[/link]")).strip() == (
        "[link=http://evil.example]click[/link]")
    t = Table()
    t.add_column("id")
    t.add_row(show("[/nope]"))
    assert "[/nope]" in render(t)


def test_long_values_are_cut_in_the_terminal() -> None:
    v = visible("A" * (1 << 20))
    rest = (1 << 20) - SHOW_LIMIT
    assert v.startswith("A" * SHOW_LIMIT) and v.endswith(f"(+{rest:,} characters)")
    assert len(v) < SHOW_LIMIT + 40


@pytest.fixture
def stats_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``lockstep stats`` through ``main()`` with ``workspace_stats`` replaced by ``fn``."""
    import lockstep
    import lockstep.stats

    ws = lockstep.open_workspace(tmp_path / "ws")

    def call(fn):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(lockstep.stats, "workspace_stats", fn)
        monkeypatch.setattr(sys, "argv", ["lockstep", "--workspace", str(ws.path), "stats"])
        with pytest.raises(SystemExit) as exc:
            cli.main()
        return exc.value.code
    return call


def _duckdb_interrupt(*_: object, **__: object) -> None:
    """A real DuckDB ``InterruptException``: a long query interrupted from another thread."""
    import duckdb

    con = duckdb.connect()
    timer = threading.Timer(0.2, con.interrupt)
    timer.start()
    try:
        con.execute("SELECT count(*) FROM range(100000000000) a")
    finally:
        timer.cancel()
        con.close()


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _ctrl_c(*_: object, **__: object) -> None:
    raise KeyboardInterrupt


def _wrapped_interrupt(*_: object, **__: object) -> None:
    """Library code that turned DuckDB's interrupt into a user error."""
    try:
        _duckdb_interrupt()
    except Exception as exc:
        raise BadInputError("x.csv", [RowError("x.csv", 2, "failed")]) from exc


@pytest.mark.parametrize("fn", [_duckdb_interrupt, _ctrl_c, _wrapped_interrupt],
                         ids=["duckdb-interrupt", "ctrl-c", "wrapped"])
def test_ctrl_c_is_one_line_and_exit_130(stats_call, capsys: pytest.CaptureFixture[str],
                                         fn) -> None:  # type: ignore[no-untyped-def]
    assert stats_call(fn) == 130
    msg = one_line(capsys.readouterr().err)
    assert msg.startswith("interrupted; the workspace is unchanged"), msg


def test_interrupted_says_what_was_kept(stats_call, capsys: pytest.CaptureFixture[str]
                                        ) -> None:  # type: ignore[no-untyped-def]
    def fn(*_: object, **__: object) -> None:
        raise Interrupted("interrupted while ingesting; nothing from this call was loaded; "
                          "the workspace is unchanged")
    assert stats_call(fn) == 130
    assert one_line(capsys.readouterr().err) == (
        "interrupted while ingesting; nothing from this call was loaded; the workspace is "
        "unchanged")


def test_error_messages_are_data(stats_call, capsys: pytest.CaptureFixture[str]
                                 ) -> None:  # type: ignore[no-untyped-def]
    from lockstep.exceptions import UsageError

    def fn(*_: object, **__: object) -> None:
        raise UsageError("[/nope] \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \u202e")
    assert stats_call(fn) == 1
    msg = one_line(capsys.readouterr().err)
    assert msg == ("error: [/nope] \\x1b]8;;http://evil.example\\x1b\\click\\x1b]8;;\\x1b\\ "
                   "\\u202e")
