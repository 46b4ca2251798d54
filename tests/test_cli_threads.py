"""`zstvg --threads N`: torch's and the BLAS libraries' threads in the command's process and
the processes it starts (OMP_NUM_THREADS / MKL_NUM_THREADS), by default OMP_NUM_THREADS where
set (Snakemake sets it to a job's threads), else the cores the process may use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# `zstvg devices` through main(), then the variables it leaves for the processes it starts.
SCRIPT = """
import json, os, sys
from zstvg.cli import main
code = main(sys.argv[1:])
print(json.dumps({v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}))
sys.exit(code)
"""


def _devices(*args: str, omp: str | None, one_core: bool = False) -> tuple[dict, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    first = min(os.sched_getaffinity(0)) if one_core else None
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "devices", "--no-progress", *args],
        env=env, capture_output=True, text=True, timeout=120,
        preexec_fn=(lambda: os.sched_setaffinity(0, {first})) if one_core else None,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    device, variables = (json.loads(line) for line in proc.stdout.splitlines()[-2:])
    return device, variables


def test_threads_option_sets_torch_and_the_environment():
    # Fewer than the environment says (torch itself takes at most the machine's cores).
    device, variables = _devices("--threads", "1", omp="2")
    assert device["torch_threads"] == 1
    assert variables == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_default_follows_omp_num_threads():
    device, variables = _devices(omp="2")
    assert device["torch_threads"] == 2
    assert variables == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_default_without_omp_num_threads_is_the_cores_this_process_may_use():
    device, variables = _devices(omp=None, one_core=True)
    assert device["torch_threads"] == 1
    assert variables == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_threads_must_be_a_positive_count():
    proc = subprocess.run(
        [sys.executable, "-m", "zstvg.cli", "devices", "--threads", "0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "--threads: must be at least 1" in proc.stderr
