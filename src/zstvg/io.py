"""File I/O at the edges: atomic writes, JSON/JSONL, provenance sidecars.

Every output is written to a temporary file in the same directory and renamed into place, so an
interrupted run never leaves a half-written file that a rerun would mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike[str]


class InputError(ValueError):
    """Bad user input; the message names the file and the field."""


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temp file next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates 0600 files; give outputs the usual umask-derived mode (0644 typically) so
    # results are readable by the other users of a shared cluster filesystem.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: PathLike, obj: Any, *, indent: int | None = 1) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=indent, sort_keys=False)
        fh.write("\n")


def write_jsonl(path: PathLike, rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line atomically; returns the number of rows."""
    n = 0
    with atomic_open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":")))
            fh.write("\n")
            n += 1
    return n


def read_json(path: PathLike, *, what: str = "JSON file") -> Any:
    """Read JSON with errors that name the file (and the line/column for malformed JSON)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def read_jsonl(path: PathLike, *, what: str = "JSONL file") -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: malformed JSON line: {exc.msg}") from None
    return rows


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (video files can be GBs)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-serialisable object, independent of key order."""
    return sha256_text(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str))


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


def provenance_path(output: PathLike) -> Path:
    """Sidecar of an output: ``<file>.provenance.json``, or ``<dir>/provenance.json`` for a
    directory, so the record travels with the directory (one DVC output, one Snakemake output)."""
    output = Path(output)
    if output.is_dir():
        return output / "provenance.json"
    return output.with_name(output.name + ".provenance.json")


def write_provenance(output: PathLike, *, step: str, params: Any = None, **extra: Any) -> Path:
    """Write the provenance sidecar of ``output``: step, params hash, git revision, versions."""
    from zstvg import __version__

    record: dict[str, Any] = {
        "step": step,
        "output": str(output),
        "zstvg_version": __version__,
        "git_revision": git_revision(),
        "params_sha256": sha256_json(params) if params is not None else None,
        "params": params,
    }
    record.update(extra)
    path = provenance_path(output)
    write_json(path, record)
    return path
