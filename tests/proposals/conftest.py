"""Fixtures for the proposal tests: tiny checkpoints (built once) and a synthetic video."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from zstvg.proposals.frames import ArrayFrames

GDINO_PYTHON = Path(__file__).resolve().parents[2] / ".venv-gdino" / "bin" / "python"


@pytest.fixture(scope="session")
def tiny_gdino(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zstvg.tiny.proposals import build_tiny_gdino

    return build_tiny_gdino(tmp_path_factory.mktemp("tiny-gdino"), seed=0)


@pytest.fixture(scope="session")
def tiny_sam2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zstvg.tiny.proposals import build_tiny_sam2

    return build_tiny_sam2(tmp_path_factory.mktemp("tiny-sam2"), seed=0)


@pytest.fixture(scope="session")
def tiny_sam2_official(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random-weight SAM 2.1 hiera-T ``.pt`` (128-px input) for ``sam2-official``."""
    pytest.importorskip("sam2", reason="sam2-official needs the 'sam2' package")
    from zstvg.tiny.proposals import build_tiny_sam2_official

    return build_tiny_sam2_official(tmp_path_factory.mktemp("tiny-sam2-official"), seed=0)


@pytest.fixture(scope="session")
def gdino_python() -> Path:
    """The python of gdino-official's environment (``make env-gdino``)."""
    if not GDINO_PYTHON.is_file():
        pytest.skip(
            ".venv-gdino is absent: `make env-gdino` builds gdino-official's environment "
            "(groundingdino-py + transformers 4.x; ~1.5 min and 6 GB)"
        )
    return GDINO_PYTHON


@pytest.fixture(scope="session")
def tiny_gdino_official(gdino_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight official-format Grounding DINO directory, built in .venv-gdino."""
    out = tmp_path_factory.mktemp("tiny-gdino-official")
    command = [str(gdino_python), "-m", "zstvg.tiny.gdino_official", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    return out


def synthetic_frames(
    n_frames: int = 20, height: int = 64, width: int = 96, step: int = 2
) -> dict[int, np.ndarray]:
    """A red square moving right 3 px/frame and a blue one moving left, on grey; frames on a
    grid of every ``step``-th native frame."""
    frames = {}
    for i in range(n_frames):
        img = np.full((height, width, 3), 128, np.uint8)
        img[10:30, 3 * i : 3 * i + 20] = (255, 0, 0)
        img[35:55, width - 20 - 3 * i : width - 3 * i] = (0, 0, 255)
        frames[i * step] = img
    return frames


@pytest.fixture()
def make_frames():
    """The synthetic frame generator, for tests that write the frames to disk."""
    return synthetic_frames


@pytest.fixture()
def synthetic_video() -> ArrayFrames:
    return ArrayFrames("synthetic-0", synthetic_frames())
