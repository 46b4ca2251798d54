"""Fixtures: the real workflow run once per session on tiny parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from wf_helpers import SEED_TARGETS, copy_outputs, make_workdir, run, tiny_params


@pytest.fixture(scope="session")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SEED_TARGETS built once for the session on tiny params (the synthetic benchmark, its
    samples, the three tiny checkpoints): the workdirs below copy what they share of it
    (copy_outputs) instead of each building it again."""
    work = make_workdir(tmp_path_factory.mktemp("seed") / "w", tiny_params())
    run(["snakemake", "--cores", "2", *SEED_TARGETS], work)
    return work


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, seed_dir: Path) -> Path:
    """The `demo` target run once for the session on tiny params."""
    work = make_workdir(tmp_path_factory.mktemp("wf") / "demo", tiny_params())
    copy_outputs(seed_dir, work, ["results/synthetic", "results/samples", "results/checkpoints"])
    run(["snakemake", "--cores", "2", "demo"], work)
    return work
