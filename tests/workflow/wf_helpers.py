"""Helpers to run the real Snakemake workflow (and DVC) on tiny parameters in a scratch dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from base64 import urlsafe_b64encode
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


# What every tiny workflow builds first, the same bytes wherever `seed` and `synthetic` are
# tiny_params()'s: the synthetic benchmark, its samples and the tiny checkpoints (built once per
# session by the `seed_dir` fixture and copied into each workdir by copy_outputs).
SEED_TARGETS = [
    "results/samples/synthetic.jsonl",
    "results/checkpoints/tiny-qwen2-vl/config.json",
    "results/checkpoints/tiny-qwen2.5-vl/config.json",  # the demo's box decoder (demo-direct)
    "results/checkpoints/tiny-gdino/config.json",
    "results/checkpoints/tiny-sam2/config.json",
]


def copy_outputs(src: Path, dst: Path, paths: list[str]) -> None:
    """Copy ``paths`` (files or folders, relative to the workdirs) of the workdir ``src`` into
    ``dst`` as Snakemake left them there: mtimes kept and each file's metadata record
    (.snakemake/metadata) with it, so Snakemake takes them as built in ``dst``; a job whose
    params, code or input files differ in ``dst`` still reruns (e.g. `--config seed=3`)."""
    records = Path(".snakemake/metadata")
    for rel in paths:
        if (src / rel).is_dir():
            shutil.copytree(src / rel, dst / rel, symlinks=True)
            files = [p for p in (src / rel).rglob("*") if p.is_file()]
        else:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst / rel)
            files = [src / rel]
        for f in files:
            name = urlsafe_b64encode(str(f.relative_to(src)).encode()).decode()
            if (src / records / name).is_file():
                (dst / records).mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / records / name, dst / records / name)


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


# Samples per test split of the paper's datasets (HC-STVG v1, v2, VidSTG).
PAPER_SIZES = {"hcstvg-v1": 1160, "hcstvg-v2": 2000, "vidstg": 10303}


def paper_matrix_workdir(root: Path, scale: float = 1.0) -> tuple[Path, dict, dict[str, int]]:
    """A workdir planning the paper's matrix: its datasets (PAPER_SIZES x ``scale`` samples, two
    per video, prepare_data already done) x the real models, every table/fig6 experiment; returns
    (workdir, params, samples per dataset). Used by test_paper_scale.py and bench_workflow.py."""
    params = tiny_params()
    real = {m: c["checkpoint"] for m, c in params["models"].items()}
    models = [m for m, ckpt in real.items() if not ckpt.startswith("results/") and ckpt != "none"]
    params["run"].update(datasets=list(PAPER_SIZES), models=models, variants=["full"])
    params["run"]["experiments"] = [
        e for e in params["experiments"] if e.startswith(("table", "fig6"))
    ]
    work = make_workdir(root, params)
    sizes = {name: max(2, round(n * scale)) for name, n in PAPER_SIZES.items()}
    for name, n in sizes.items():
        ds = params["datasets"][name]
        (work / ds["annotations"]).parent.mkdir(parents=True, exist_ok=True)
        (work / ds["annotations"]).write_text("{}")
        samples = work / f"results/samples/{name}.jsonl"
        samples.parent.mkdir(parents=True, exist_ok=True)
        with samples.open("w") as fh:  # newer than the annotations: prepare_data is done
            for i in range(n):
                video = f"v{i // 2}"
                row = {"sample_id": f"{name}-{i}", "video_id": video,
                       "video_path": f"data/{name}/videos/{video}.mp4"}  # fmt: skip
                fh.write(json.dumps(row) + "\n")
    for m in models:
        ckpt = work / params["models"][m]["checkpoint"]
        ckpt.mkdir(parents=True, exist_ok=True)
        (ckpt / "config.json").write_text("{}")
    return work, params, sizes
