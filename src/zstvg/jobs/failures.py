"""Listing failed items on the console: one format and one limit for every step."""

from __future__ import annotations

from collections.abc import Mapping

from zstvg.files.io import PathLike

MAX_LISTED = 20  # the console lists this many; the output file has all of them


def print_failures(
    failures: Mapping[str, str], where: PathLike | None, verb: str = "failed"
) -> None:
    """``  failed <id>: <reason>`` for the first MAX_LISTED items, then where the rest are
    (``where`` is None when the step was not asked to write them anywhere)."""
    for item_id, reason in list(failures.items())[:MAX_LISTED]:
        print(f"  {verb} {item_id}: {reason}")
    if len(failures) > MAX_LISTED:
        rest = f"  ... and {len(failures) - MAX_LISTED} more"
        print(rest if where is None else f"{rest} (all in {where})")
