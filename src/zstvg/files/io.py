"""File I/O at the edges: atomic writes, JSON/JSONL, content hashes and fingerprints.

Every output is written to a temporary file in the same directory and renamed into place, so an
interrupted run never leaves a half-written file that a rerun would mistake for a finished one.
Provenance sidecars are in :mod:`zstvg.files.provenance`.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

PathLike = str | os.PathLike[str]


class InputError(ValueError):
    """Bad user input; the message names the file and the field."""


TMP_SUFFIX = ".tmp"


def remove_dead_temp_files(directory: PathLike) -> int:
    """Delete the temp files :func:`atomic_open` left in ``directory`` when its writer died
    (killed mid-write); a live writer's file is kept. Returns how many were removed."""
    n = 0
    for path in Path(directory).glob(f".*{TMP_SUFFIX}"):
        parts = path.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


@contextlib.contextmanager
def atomic_open(
    path: PathLike, mode: str = "w", *, fsync: bool = True, **kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temp file next to ``path``; rename it onto ``path`` only if the block succeeds.

    The temp name is unique per call (``mkstemp``), so two processes writing one output never
    share a temp file. ``fsync=False`` skips the flush to disk for many small files whose loss
    on a power cut a rerun would redo anyway (frame JPEGs, cache entries).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name lets a later run tell a dead writer's leftover from a
    # concurrent writer's file in progress (see :func:`remove_dead_temp_files`).
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent
        )
    except OSError as exc:  # named after its random temp name otherwise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    # mkstemp creates 0600 files; give outputs the usual umask-derived mode (0644 typically) so
    # results are readable by the other users of a shared cluster filesystem.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        try:
            with os.fdopen(fd, mode, **kwargs) as fh:
                yield fh
                fh.flush()
                if fsync:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            error = write_error(exc, path)
            if error is None:
                raise  # another file's error (its own name), or not a failed write
            raise error from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# The errors of a write that a rerun elsewhere (another disk, more quota) fixes: reported as
# one line naming the file, exit 1 (zstvg.cli.main), never a traceback.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG})


def write_error(exc: OSError, path: Path) -> OSError | None:
    """``exc``, raised by a write to an open file (so naming no file), as an OSError naming
    ``path``; None when it is no failed write (it names a file, or another errno). numpy's
    ``np.save`` to a file reports a short write with no errno ("5120 requested and 2016
    written"): a full file system is then named as the cause, as the write syscall said."""
    if exc.filename is not None:
        return None
    if exc.errno in WRITE_ERRNOS:
        return OSError(exc.errno, exc.strerror, str(path))
    short_write = exc.errno is None and " requested and " in str(exc)
    if not short_write:
        return None
    with contextlib.suppress(OSError):
        if os.statvfs(path.parent).f_bavail == 0:
            return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({exc})", str(path))
    return OSError(errno.EIO, f"short write ({exc})", str(path))


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


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (restored after, also on an error).

    For parsing big JSON: every collection walks all the containers made so far, and a parse
    makes millions (10,303 VidSTG-sized predictions: 1.8 M box lists; orjson 1.7 s with the
    collector, 0.6 s without). Parsed JSON holds no reference cycles, so nothing is kept alive.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads_json(text: str) -> Any:
    """Parse JSON text with orjson (3x the standard parser on float-heavy files), falling back
    to the standard parser for what orjson refuses and Python's json writes or reads: NaN and
    Infinity literals (HC-STVG's own files have them), integers beyond 64 bits, lone
    surrogates. Malformed text raises the standard parser's JSONDecodeError (line, column)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def read_json(path: PathLike, *, what: str = "JSON file") -> Any:
    """Read JSON with errors that name the file (and the line/column for malformed JSON)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        with gc_paused():
            return loads_json(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text ({_where_bytes(path, exc)})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def _where_bytes(path: Path, exc: UnicodeDecodeError) -> str:
    """'line L, byte B: 0xff' for the first undecodable byte of a file read as UTF-8.

    The decoder reports an offset into the chunk it was given, not the file, so the line is
    found by decoding the raw bytes again (only on this error path).
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as full:
        line = data.count(b"\n", 0, full.start) + 1
        return f"line {line}, byte {full.start}: 0x{data[full.start]:02x} {full.reason}"
    return exc.reason


def read_jsonl(path: PathLike, *, what: str = "JSONL file") -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    rows = []
    try:
        with path.open(encoding="utf-8") as fh, gc_paused():
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(loads_json(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{lineno}: malformed JSON line: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text ({_where_bytes(path, exc)})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    return rows


def read_finished(
    path: PathLike,
    job: str,
    *,
    failed_too: bool = False,
    status: Callable[[dict[str, Any]], Any] = lambda r: r.get("status"),
    complete: Callable[[dict[str, Any]], bool] = lambda r: True,
) -> dict[str, Any] | None:
    """The per-item record at ``path`` when it is this job's (its ``job_sha256``) and done:
    not failed and ``complete`` (the files it names exist), or failed when ``failed_too`` (a
    merge of shards takes the shards' records as they are; a run retries failed items). An
    unreadable or foreign record is not done: the item is computed again."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except InputError:
        return None
    if not isinstance(record, dict) or record.get("job_sha256") != job:
        return None
    if status(record) == "failed":
        return record if failed_too else None
    return record if complete(record) else None


def read_finished_entry(path: PathLike, job: str, failed_too: bool) -> dict[str, Any] | None:
    """:func:`read_finished` for a per-sample record ``{"job_sha256", "entry": {"status",
    "file"}, ...}`` (probe-attention, probe-layers): done when its entry is ok and the file the
    entry names is there beside it."""
    path = Path(path)

    def entry(record: dict[str, Any]) -> dict[str, Any]:
        return record.get("entry") or {}

    return read_finished(
        path, job, failed_too=failed_too, status=lambda r: entry(r).get("status"),
        complete=lambda r: entry(r).get("status") == "ok"
        and (path.parent / entry(r).get("file", "")).is_file(),
    )  # fmt: skip


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (video files can be GBs)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Where content hashes are remembered by a file's stat (see :func:`fingerprint`): a user cache,
# like pip's or DVC's state database, never inside an output (its entries hold inode numbers
# and mtimes, which differ on every checkout). Tests point it at a scratch directory.
HASH_CACHE_ENV = "ZSTVG_HASH_CACHE"


def hash_cache_dir() -> Path:
    """``$ZSTVG_HASH_CACHE``, else ``$XDG_CACHE_HOME/zstvg/hashes`` (``~/.cache/zstvg/hashes``)."""
    if os.environ.get(HASH_CACHE_ENV):
        return Path(os.environ[HASH_CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "zstvg" / "hashes"


def fingerprint(path: PathLike) -> dict[str, Any]:
    """A file's content identity: ``{"size", "sha256"}``, the same bytes on any machine.

    Outputs and resume keys hold only this, so a fresh checkout (new mtimes, new inodes)
    rebuilds byte-identical provenance. The hash of a file whose (path, device, inode, size,
    mtime) was seen before is read from the hash cache (:func:`hash_cache_dir`), so a rerun over
    10,000 unchanged videos costs one ``stat`` and one small read each; any change of those
    re-hashes, and only a changed hash counts as a changed input. Raises InputError when the
    file cannot be read.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    key = sha256_json([str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns])
    entry = hash_cache_dir() / key[:2] / key
    with contextlib.suppress(OSError, UnicodeDecodeError):
        digest = entry.read_text(encoding="ascii").strip()
        if len(digest) == 64:
            return {"size": st.st_size, "sha256": digest}
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    # A read-only or full cache only costs the next run a re-hash.
    with contextlib.suppress(OSError), atomic_open(entry, "w", encoding="ascii", fsync=False) as fh:
        fh.write(digest)
    return {"size": st.st_size, "sha256": digest}


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-serialisable object, independent of key order."""
    return sha256_text(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str))
