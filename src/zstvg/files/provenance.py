"""Provenance sidecars: what made an output. Beside each output ``<file>.provenance.json`` (or
``<dir>/provenance.json``) holds the step, its params and their hash, the package version and the
fingerprints of the inputs, so identical reruns write identical bytes; ``<sidecar>.run.json``
holds what differs between identical reruns (git revision, seconds, device)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from zstvg.files.io import PathLike, fingerprint, sha256_json, write_json


def git_revision(cwd: PathLike | None = None) -> str | None:
    """The current git commit (with ``-dirty`` when the tree has changes), or None outside git."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{rev}-dirty" if dirty else rev


# Facts of this process that every run record it writes carries (``note_params_file``).
_RUN_FACTS: dict[str, Any] = {}


def note_params_file(path: PathLike) -> None:
    """Record the params file this process read (its path and SHA-256) in every run record it
    writes: under the workflow, the content-addressed merged config the job's invocation wrote
    (results/config/<digest>.yaml), so an output names the exact config it was made with."""
    from zstvg.files.io import sha256_file

    _RUN_FACTS.update(params_file=str(path), params_file_sha256=sha256_file(path))


def run_facts() -> dict[str, Any]:
    """What every run record of this process holds: the git revision and the params file read
    (``note_params_file``). A step writing many run records (``ground``: one per sample) reads
    it once."""
    return {"git_revision": git_revision(), **_RUN_FACTS}


def provenance_path(output: PathLike) -> Path:
    """Sidecar of an output: ``<file>.provenance.json``, or ``<dir>/provenance.json`` for a
    directory, so the record travels with the directory (one DVC output, one Snakemake output)."""
    output = Path(output)
    if output.is_dir():
        return output / "provenance.json"
    return output.with_name(output.name + ".provenance.json")


def write_provenance(
    output: PathLike,
    *,
    step: str,
    params: Any = None,
    volatile: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write the provenance sidecar of ``output``: step, params and their hash, version, inputs.

    It holds only what decides the output, so rerunning a step on the same inputs rewrites the
    same bytes and DVC does not rerun the stages after it. The git revision the output was made
    at changes with every commit, README edits included: it goes to ``<sidecar>.run.json``
    instead (``run_record_path``), which ``.dvcignore`` keeps out of DVC's output hashes, with
    the other facts of this run that differ between identical reruns (``volatile``: seconds,
    the device).
    """
    from zstvg import __version__

    record: dict[str, Any] = {
        "step": step,
        "output": str(output),
        "zstvg_version": __version__,
        "params_sha256": sha256_json(params) if params is not None else None,
        "params": params,
    }
    record.update(extra)
    path = provenance_path(output)
    write_json(path, record)
    write_json(
        run_record_path(path),
        {"step": step, **run_facts(), **(volatile or {})},
    )
    return path


def is_sidecar(path: PathLike) -> bool:
    """Whether a file is a provenance sidecar or its run record (not an output itself)."""
    name = Path(path).name
    return name.endswith(("provenance.json", "provenance.run.json"))


def run_record_path(sidecar: PathLike) -> Path:
    """Where the volatile facts of a run (its git revision, seconds) go, beside the sidecar
    (or beside a per-item record: ``records/<sample>.json`` -> ``records/<sample>.run.json``)."""
    sidecar = Path(sidecar)
    return sidecar.with_name(sidecar.name[: -len(".json")] + ".run.json")


def checkpoint_sha256(checkpoint: str) -> str | None:
    """The SHA-256 of a local checkpoint's files (:func:`fingerprint_tree`); None for a hub id,
    whose revision is its identity."""
    return fingerprint_tree(checkpoint)["sha256"] if Path(checkpoint).exists() else None


def fingerprint_tree(path: PathLike) -> dict[str, Any]:
    """Fingerprint of a file, or of every file under a directory (a checkpoint folder):
    ``{"sha256": <summary of the tree>, "files": {relative path: fingerprint}}``."""
    path = Path(path)
    if not path.is_dir():
        return fingerprint(path)
    files = {
        str(p.relative_to(path)): fingerprint(p)
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and not is_sidecar(p)
    }
    return {"sha256": sha256_json({k: v["sha256"] for k, v in files.items()}), "files": files}
