"""Shared test fixtures. Package-specific fixtures live in tests/<package>/conftest.py."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Keep the hash cache of ``zstvg.files.io.fingerprint`` out of the user's home: every test, and
    every workflow the tests start (they inherit the environment), uses a scratch one."""
    import os
    import shutil
    import tempfile

    from zstvg.files.io import HASH_CACHE_ENV

    os.environ[HASH_CACHE_ENV] = cache = tempfile.mkdtemp(prefix="zstvg-hash-cache-")
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    # One torch/OpenMP thread in the test process and every process it starts (Snakemake jobs,
    # CLI subprocesses inherit the environment): the tiny models' ops are too small to split,
    # and on CI's 2 cores a test process and its jobs each starting 2 threads oversubscribe them
    # (test_lra's prefix/suffix test: 254.7 s with the default threads on a loaded machine,
    # 26.1 s with one; 16.0 vs 10.9 s on a quiet one; a 20-frame SAM 2 propagation 23 vs 1.1 s).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture()
def params_raw() -> dict:
    """A fresh plain-dict copy of the repository's params.yaml, for tests to edit."""
    import yaml

    return yaml.safe_load((REPO / "params.yaml").read_text())


class _TerminalStderr(io.StringIO):
    """A stderr that says it is a terminal and keeps what was written."""

    def isatty(self) -> bool:
        return True


@pytest.fixture()
def terminal_stderr(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """``sys.stderr`` replaced by a terminal (for the progress bars); read it with getvalue()."""
    terminal = _TerminalStderr()
    monkeypatch.setattr(sys, "stderr", terminal)
    return terminal
