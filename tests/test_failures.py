"""The one console listing of failed items."""

from __future__ import annotations

from zstvg.jobs.failures import MAX_LISTED, print_failures


def test_lists_the_first_items_then_says_where_the_rest_are(capsys):
    failures = {f"s{i}": "corrupt" for i in range(MAX_LISTED + 2)}
    print_failures(failures, "out.json", "rejected")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  rejected s0: corrupt"
    assert len(lines) == MAX_LISTED + 1
    assert lines[-1] == "  ... and 2 more (all in out.json)"


def test_without_an_output_file_the_rest_are_only_counted(capsys):
    print_failures({f"s{i}": "x" for i in range(MAX_LISTED + 1)}, None)
    assert capsys.readouterr().out.splitlines()[-1] == "  ... and 1 more"


def test_nothing_failed_prints_nothing(capsys):
    print_failures({}, "out.json")
    assert capsys.readouterr().out == ""
