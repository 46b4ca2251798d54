"""Greedy generation and the model-input frame size of the box-decoding backends (the direct
baseline's), on their tiny checkpoints."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize(("family", "input_wh"), [("qwen2.5-vl", (84, 56)), ("qwen3-vl", (96, 64))])
def test_greedy_answers_are_capped_and_repeatable(loaded, family, input_wh):
    m = loaded(family)
    frames = list(np.random.RandomState(0).randint(0, 256, (4, 56, 84, 3), dtype=np.uint8))
    inputs = m.encode(frames, [0, 10, 20, 30], "Where is the man?", 25.0)
    # 56 x 84 frames: a multiple of 28 px for Qwen2.5-VL (kept), 64 x 96 for Qwen3-VL's 32 px
    assert m.input_wh(inputs) == input_wh
    text, n_new = m.generate_text(inputs, 12)
    assert n_new == 12  # random weights never stop on their own
    assert m.generate_text(inputs, 12) == (text, 12)
    assert text and "<|im_end|>" not in text


def test_a_backend_without_box_decoding_says_so(loaded):
    assert loaded("qwen2-vl").box_family is None  # Qwen2-VL is not asked for boxes
    m = loaded("llava-ov")
    assert m.box_family is None
    with pytest.raises(NotImplementedError, match="llava-ov: no box decoding"):
        m.input_wh(None)
