"""Helpers to run the real Snakemake workflow (and DVC) on tiny parameters in a scratch dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tiny_params() -> dict:
    """The repository's params with a 2-video, 64x64, 5 fps synthetic benchmark."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["synthetic"].update(n_videos=2, width=96, height=64, fps=5, min_actors=2, max_actors=3)
    raw["frames"]["n_mllm_frames"] = 4
    return raw


def make_workdir(path: Path, params: dict) -> Path:
    """A working directory that sees the repo's workflow and code through symlinks; data/ and
    checkpoints/ are real folders (DVC dependencies: DVC does not follow a symlinked folder)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "profiles", "dvc.yaml", "src", ".dvcignore"):
        (path / name).symlink_to(REPO / name)
    for name in ("data", "checkpoints"):
        (path / name).mkdir()
        shutil.copy(REPO / name / "README.md", path / name / "README.md")
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run(
    cmd: list[str], cwd: Path, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """Run with the venv's bin/ first on PATH (rules call `zstvg`); fail the test on error."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    return proc
