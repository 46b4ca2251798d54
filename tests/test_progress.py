"""The one progress convention (zstvg.jobs.progress): a bar only when stderr is a terminal, none
with ``--no-progress``, a flag every step takes."""

from __future__ import annotations

import io
import os
import sys

import pytest

from zstvg.cli import COMMANDS, main
from zstvg.jobs.progress import progress


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_step_takes_no_progress(command, capsys) -> None:
    # --help exits before the required arguments are checked; an unknown flag would
    # already have failed the parse (exit 2)
    with pytest.raises(SystemExit) as exc:
        main([command, "--no-progress", "--help"])
    assert exc.value.code == 0
    assert "--no-progress" in capsys.readouterr().out


def test_a_bar_only_on_a_terminal_and_never_with_no_progress(monkeypatch, request) -> None:
    log = io.StringIO()  # a log file: not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    assert list(progress([1, 2, 3], desc="step", unit="video")) == [1, 2, 3]
    assert log.getvalue() == ""

    terminal = request.getfixturevalue("terminal_stderr")
    assert list(progress([1, 2, 3], desc="step", unit="video", enabled=False)) == [1, 2, 3]
    assert terminal.getvalue() == ""

    assert list(progress([1, 2, 3], desc="step", unit="video")) == [1, 2, 3]
    assert "step: 100%" in terminal.getvalue() and "3/3" in terminal.getvalue()


def test_no_progress_silences_the_libraries_bars_too(monkeypatch, request) -> None:
    """transformers' own bars ("Loading weights") follow the same rule: off in logs and with
    --no-progress (HF_HUB_DISABLE_PROGRESS_BARS, read when transformers is first imported)."""
    request.getfixturevalue("terminal_stderr")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    assert main(["devices"]) == 0
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ  # a terminal: bars on
    assert main(["devices", "--no-progress"]) == 0
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
