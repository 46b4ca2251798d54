"""``--sample-id`` as ground and probe-attention declare it, and the selection it drives."""

from __future__ import annotations

import argparse

import pytest

from zstvg.files.io import InputError
from zstvg.files.records import Sample
from zstvg.files.samples import add_sample_id_argument, select_samples


def _sample(sample_id: str) -> Sample:
    return Sample(
        sample_id, "v", "v.mp4", "q", "declarative", 25.0, 100, 64, 48, (10, 20), (0, 100)
    )


def _ids(argv: list[str]) -> list[str]:
    parser = argparse.ArgumentParser()
    add_sample_id_argument(parser)
    return parser.parse_args(argv).sample_ids


def test_sample_id_selects_in_file_order_and_defaults_to_all() -> None:
    samples = [_sample("a"), _sample("b"), _sample("c")]
    chosen = select_samples(samples, _ids(["--sample-id", "c", "--sample-id", "a"]), "s.jsonl")
    assert [s.sample_id for s in chosen] == ["a", "c"]
    assert select_samples(samples, _ids([]), "s.jsonl") == samples


def test_unknown_sample_id_names_it_and_the_file() -> None:
    with pytest.raises(InputError, match=r"--sample-id x: not in s\.jsonl"):
        select_samples([_sample("a")], _ids(["--sample-id", "x"]), "s.jsonl")
