"""No behaviour left to a library default it says will change: the ground and probe forwards of
every tiny backend raise no deprecation warning and log no deprecation notice.

transformers reports through both channels: ``warnings`` (DeprecationWarning, FutureWarning)
and its own loggers (``logger.warning_once``: "`past_key_values`/`cache_params` are deprecated",
"Qwen2VL video processing does not apply the per-frame pixel cap ... In v5.22 the capped
behavior will become the default"). Its loggers do not propagate to the root logger (so caplog
misses them) and print each ``warning_once`` message once per process: the guard clears that
memory and listens on the "transformers" logger itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import warnings
from collections.abc import Iterator

import pytest
from test_backends import FPS, FRAME_IDX, H, W, frames

from zstvg.config.params import load_params
from zstvg.config.variants import get_variant
from zstvg.files.records import Sample, Track
from zstvg.grounding.engine import GroundingEngine, GroundInput
from zstvg.mllm import build_mllm
from zstvg.mllm.probe import probe_sample

# What a deprecation notice says, in transformers' words and the usual ones.
NOTICE = re.compile(
    r"deprecat|will become the default|will be removed|will change|no longer supported", re.I
)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def no_deprecation_notices() -> Iterator[None]:
    """Inside: a DeprecationWarning or FutureWarning raises where it is issued; afterwards, a
    record of the "transformers" loggers that reads as a deprecation notice fails the test."""
    from transformers.utils import logging as hf_logging

    hf_logging.warning_once.cache_clear()  # once-per-process notices speak again
    hf_logging.info_once.cache_clear()
    handler = _Records()
    root = logging.getLogger("transformers")
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            warnings.simplefilter("error", FutureWarning)
            yield
    finally:
        root.removeHandler(handler)
    notices = [
        f"{r.name}: {r.getMessage()}"
        for r in handler.records
        if r.levelno >= logging.WARNING and NOTICE.search(r.getMessage())
    ]
    assert not notices, "deprecation notices:\n" + "\n".join(notices)


def _ground_input() -> GroundInput:
    """The test frames (56 x 84, native frames 0-40 at 25 fps) and two boxes to choose from."""
    sample = Sample("s", "v", "v.mp4", "the man in red walks", "declarative", FPS, 50, W, H,
                    (10, 40), (0, 50))  # fmt: skip
    left, right = (0.0, 0.0, 28.0, 28.0), (56.0, 28.0, 84.0, 56.0)
    return GroundInput(
        sample=sample,
        frames=frames(),
        mllm_frame_idx=tuple(FRAME_IDX),
        mllm_bins=(0, 10, 20, 30, 40, 50),  # frame i stands for [10 i, 10 i + 10)
        fps=FPS,
        tracks=[
            Track(1, "person", {f: left for f in FRAME_IDX}),
            Track(2, "person", {f: right for f in FRAME_IDX}),
        ],
        spatial_text="Is there a man in red in this video?",
        temporal_text="Is there a man walking in this video?",
    )


def test_ground_and_probe_forwards_raise_no_deprecation_notice(tiny_checkpoint, family):
    checkpoint = str(tiny_checkpoint(family))  # built outside the guard: the checks are ours
    base = load_params().ground
    with no_deprecation_notices():
        # loading (model, processor), a probe forward, and every forward kind grounding runs:
        # full forwards, LRA backwards, TAS reversal, cached prefixes with text suffixes
        # (engine fast), rows-only suffixes, gradient checkpointing
        m = build_mllm(family, checkpoint, dtype="float32", device="cpu",
                       layer_start=0, layer_stop=None)  # fmt: skip
        probe = probe_sample(m, frames(), tuple(FRAME_IDX), FPS, "Is there a man?")
        assert probe["attn_thw"].shape[0] == len(probe["candidate_tokens"])
        variants = [get_variant("full"), get_variant("gti+entropy")]
        for engine, recompute in (("reference", False), ("fast", True)):
            cfg = dataclasses.replace(base, engine=engine, gradient_checkpointing=recompute)
            out = GroundingEngine(m, cfg).ground_many(_ground_input(), variants)
            for name, (pred, _record) in out.items():
                assert pred.track_id in (1, 2), (engine, name)


def test_the_guard_catches_both_channels():
    """The guard fails on a logged notice and on a DeprecationWarning (so a pass above means
    none was issued, not that none was seen)."""
    from transformers.utils import logging as hf_logging

    logger = hf_logging.get_logger("transformers.models.fake")
    with pytest.raises(AssertionError, match="will become the default"):
        with no_deprecation_notices():
            logger.warning_once("In v9 the capped behavior will become the default.")
    with pytest.raises(DeprecationWarning, match="old argument"):
        with no_deprecation_notices():
            warnings.warn("old argument", DeprecationWarning, stacklevel=1)
    with pytest.raises(FutureWarning):
        with no_deprecation_notices():
            warnings.warn("changes later", FutureWarning, stacklevel=1)
