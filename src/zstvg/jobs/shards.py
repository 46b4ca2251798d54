"""Shards of a dataset: stable subsets of its videos, known before any data is read.

A video belongs to shard ``blake2b-64(video_id) mod N``: the same video always lands in the same
shard (adding or removing videos moves no other one), every sample of a video stays together,
and the workflow knows the N shard jobs of a dataset when it plans the DAG (a dry run shows
them all), from ``datasets.<name>.shards`` alone. With N = 1 there is one shard: the dataset.
(Not CRC-32: it is linear, so ids that differ in one character, "video_000" / "video_001",
share its low bits and would all land in one shard of two.)
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from zstvg.files.io import InputError

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (0 <= I < N) as (I, N)."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = -1
    if not sep or n < 1 or not 0 <= i < n:
        raise InputError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return i, n


def shard_of(video_id: str, n_shards: int) -> int:
    digest = hashlib.blake2b(video_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n_shards


def shard_name(index: int, n_shards: int) -> str:
    """The file stem of a shard's manifest: ``"0-of-4"``."""
    return f"{index}-of-{n_shards}"


def samples_in_shard(samples: Sequence[T], shard: tuple[int, int] | None) -> list[T]:
    """The samples (anything with a ``video_id``) of shard (I, N); all of them for None."""
    if shard is None:
        return list(samples)
    index, n_shards = shard
    return [s for s in samples if shard_of(s.video_id, n_shards) == index]  # type: ignore[attr-defined]


def samples_of(
    samples: str | Path, sample_ids: Sequence[str], shard: str | None, merge: int | None
) -> tuple[list[Any], tuple[int, int] | None]:
    """A GPU step's samples: those of ``samples`` (all, or ``sample_ids``) in the shard of
    ``--shard "I/N"`` (all without one), and that shard (None: the whole step or its merge)."""
    from zstvg.files.samples import read_samples, select_samples

    todo = select_samples(read_samples(samples), list(sample_ids), samples)
    selected_shard = selected(shard, merge)
    return samples_in_shard(todo, selected_shard), selected_shard


def shard_path(out_dir: str | Path, index: int, n_shards: int) -> Path:
    """Where a shard job writes its manifest: ``<out>/shards/I-of-N.json``."""
    return Path(out_dir) / "shards" / f"{shard_name(index, n_shards)}.json"


def add_arguments(parser: argparse.ArgumentParser, writes: str, merges: str | None) -> None:
    """``--shard I/N`` (and ``--merge N`` where the step has a merge) of one command.

    ``writes``: what a shard job writes beside ``<out>/shards/I-of-N.json``; ``merges``: what
    the merge assembles (None: the step's plain run resumes the shards instead).
    """
    parser.add_argument(
        "--shard", default=None, metavar="I/N",
        help=f"only the videos in shard I of N (zstvg.jobs.shards): {writes} and "
        "<out>/shards/I-of-N.json",
    )  # fmt: skip
    if merges is not None:
        parser.add_argument(
            "--merge", type=int, default=None, metavar="N",
            help=f"compute nothing: {merges} from what the N shard jobs wrote; an item no "
            "shard wrote fails, named",
        )  # fmt: skip


def from_args(args: argparse.Namespace) -> tuple[int, int] | None:
    """The shard (I, N) a command runs, or None; ``--shard`` and ``--merge`` exclude each
    other."""
    return selected(args.shard, getattr(args, "merge", None))


def selected(shard: str | None, merge: int | None = None) -> tuple[int, int] | None:
    """The shard (I, N) of ``--shard "I/N"`` (None without one); ``--shard`` and ``--merge``
    exclude each other."""
    parsed = parse_shard(shard) if shard else None
    if parsed and merge is not None:
        raise InputError("--shard runs one shard, --merge assembles them: give one of them")
    return parsed
