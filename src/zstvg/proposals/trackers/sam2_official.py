"""``sam2-official``: SAM 2 through Meta's ``sam2`` package (``build_sam2_video_predictor``).

The package is not in our lock (it builds from source only; see
/work/shared/notes/dependencies.md: ``SAM2_BUILD_CUDA=0 pip install sam2`` gives a clean CPU
install). This backend checks for it and refuses with an error that names the package and how
to install it. The propagation itself is not wired to the package's predictor in this version:
its ``init_state`` loads a whole JPEG folder into memory at once, which our streamed, windowed
tracking avoids, so with the package installed the backend still refuses and points to
``sam2-hf`` (the same SAM 2.1 weights through transformers).
"""

from __future__ import annotations

import importlib.util
from typing import NoReturn

from zstvg.config import ProposalsConfig
from zstvg.io import InputError

INSTALL_HINT = "SAM2_BUILD_CUDA=0 pip install 'sam2>=1.1' (or: pip install 'zstvg[sam2]')"


class Sam2Unavailable(InputError):
    """The official SAM 2 package cannot be used here."""


def build_sam2_official(cfg: ProposalsConfig, device: str = "cpu") -> NoReturn:
    if importlib.util.find_spec("sam2") is None:
        raise Sam2Unavailable(
            "proposals.tracker=sam2-official needs the 'sam2' package (Meta's SAM 2, "
            f"build_sam2_video_predictor), which is not installed: {INSTALL_HINT}. "
            "Or use proposals.tracker=sam2-hf (the same SAM 2.1 weights through transformers)."
        )
    raise Sam2Unavailable(
        "proposals.tracker=sam2-official: the 'sam2' package is installed, but this version of "
        "zstvg does not drive its video predictor (it loads a whole frame folder into memory); "
        "use proposals.tracker=sam2-hf with the matching transformers checkpoint "
        f"(tracker_checkpoint was {cfg.tracker_checkpoint!r})."
    )
