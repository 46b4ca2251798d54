"""The rules' conda environment resolves where Snakemake builds it: envs/zstvg.yaml holds
requirements.lock's pins inline (Snakemake copies the file alone into .snakemake/conda/, where a
relative `-r ../requirements.lock` or `-e ..` named nothing), and its post-deploy script installs
the package from the checkout Snakemake runs in."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ENV = REPO / "envs/zstvg.yaml"
# Snakemake runs <env>.post-deploy.sh after building <env>.yaml (snakemake.deployment.conda)
POST_DEPLOY = REPO / "envs/zstvg.post-deploy.sh"


def conda_directives() -> list[tuple[Path, Path]]:
    """(workflow file, the env file its `conda:` names, resolved from that file's folder)."""
    found = []
    for smk in [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))]:
        text = smk.read_text(encoding="utf-8")
        for name in re.findall(r"^    conda:\n        \"([^\"]+)\"$", text, flags=re.M):
            found.append((smk, (smk.parent / name).resolve()))
    return found


def test_every_rule_names_the_one_env_file():
    directives = conda_directives()
    assert len(directives) >= 20  # one per shell rule (`snakemake --lint` asks for each)
    assert {env for _, env in directives} == {ENV}


def test_the_env_file_pins_the_lock_inline_and_names_no_local_path():
    env = yaml.safe_load(ENV.read_text(encoding="utf-8"))
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    lock = [
        line.strip()
        for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pip == lock, "envs/zstvg.yaml is stale: run `.venv/bin/python tools/write_conda_env.py`"
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!_-]+", spec) for spec in pip)
    assert "python=3.11" in env["dependencies"]


def _post_deploy(cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The post-deploy script with a stand-in `python` that prints its arguments."""
    fake = tmp_path / "fakebin"
    fake.mkdir(exist_ok=True)
    (fake / "python").write_text('#!/bin/sh\necho "python $*"\n')
    (fake / "python").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        ["bash", str(POST_DEPLOY)], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
    )


def test_post_deploy_installs_the_checkout_the_snakefile_belongs_to(tmp_path):
    work = tmp_path / "w"  # a workdir as tests/workflow makes them: the Snakefile a symlink
    work.mkdir()
    (work / "Snakefile").symlink_to(REPO / "Snakefile")
    done = _post_deploy(work, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"python -m pip install --no-deps --editable {REPO}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    failed = _post_deploy(elsewhere, tmp_path)
    assert failed.returncode == 1 and "run snakemake from the zstvg checkout" in failed.stderr
