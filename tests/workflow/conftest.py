"""Fixtures: the real workflow run once per session on tiny parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from wf_helpers import make_workdir, run, tiny_params


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `demo` target run once for the session on tiny params."""
    work = make_workdir(tmp_path_factory.mktemp("wf") / "demo", tiny_params())
    run(["snakemake", "--cores", "2", "demo"], work)
    return work
