"""The one progress-bar convention of the long steps (sample-frames, decompose, propose,
probe-attention, ground).

A step wraps its loop over videos, queries or samples in :func:`progress`: a tqdm bar on stderr
when stderr is a terminal, none when it is a file or a pipe (a log: the bar's carriage-return
redraws would fill it with a line per update), and none either when the step got the common
``--no-progress`` flag (``zstvg.cli``), e.g. for shard jobs that share one terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar, cast

from tqdm import tqdm

T = TypeVar("T")


def stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)  # a replaced stderr may lack it
    return bool(isatty and isatty())


def progress(
    iterable: Iterable[T] | None = None,
    *,
    desc: str,
    unit: str,
    total: int | None = None,
    enabled: bool = True,
) -> tqdm[T]:
    """A tqdm bar named ``desc`` counting ``unit``s over ``iterable`` (or ``total`` updates),
    shown only when ``enabled`` and stderr is a terminal; a disabled bar still iterates."""
    shown = enabled and stderr_is_terminal()
    bar = tqdm(iterable, desc=desc, unit=unit, total=total, disable=not shown, file=sys.stderr)
    return cast("tqdm[T]", bar)  # tqdm's overloads type a bar without an iterable as tqdm[Never]
